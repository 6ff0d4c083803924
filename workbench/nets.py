"""The built-in torch modules (imported only when a model is built)."""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
}


class MLPNet(nn.Module):
    def __init__(self, input_shape, num_outputs, hidden, activation="relu", dropout=0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class CNNNet(nn.Module):
    """Conv -> act -> (pool while the image is large enough), then a dense head."""

    def __init__(self, input_shape, num_outputs, channels, hidden, activation="relu", dropout=0.0):
        super().__init__()
        c, h, w = input_shape
        blocks: list[nn.Module] = []
        for ch in channels:
            blocks += [nn.Conv2d(c, ch, 3, padding=1), ACTIVATIONS[activation]()]
            if min(h, w) >= 4:
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = ch
        self.features = nn.Sequential(*blocks)
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(c * h * w, hidden), ACTIVATIONS[activation]()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_outputs))
        self.head = nn.Sequential(*head)

    def forward(self, x):
        return self.head(self.features(x))


class EmbeddingNet(nn.Module):
    """rating(u, i) = <P_u, Q_i> + b_u + b_i + mean; every parameter is an embedding."""

    def __init__(self, num_users, num_items, dim, sparse=True):
        super().__init__()
        self.users = nn.Embedding(num_users, dim, sparse=sparse)
        self.items = nn.Embedding(num_items, dim, sparse=sparse)
        self.user_bias = nn.Embedding(num_users, 1, sparse=sparse)
        self.item_bias = nn.Embedding(num_items, 1, sparse=sparse)
        for emb in (self.users, self.items):
            nn.init.normal_(emb.weight, std=0.1)
        for emb in (self.user_bias, self.item_bias):
            nn.init.zeros_(emb.weight)

    def forward(self, x):
        u, i = x[:, 0], x[:, 1]
        dot = (self.users(u) * self.items(i)).sum(1, keepdim=True)
        return dot + self.user_bias(u) + self.item_bias(i)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["MLPNet", "CNNNet", "EmbeddingNet", "count_parameters", "torch"]
