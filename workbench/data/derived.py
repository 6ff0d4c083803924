"""Datasets derived from real ones for tasks that need a different target: soft-label
distributions (for KLDivLoss) from digits, and ranking pairs (for MarginRankingLoss) from diabetes."""

from __future__ import annotations

import numpy as np
import torch

from . import Loaded

#: softmax temperature of the digits-soft teacher; 1.0 leaves the top class about 0.73 on average
TEACHER_TEMPERATURE = 1.0


def digits_soft(cfg) -> Loaded:
    """Digits whose targets are a nearest-centroid teacher's softened class probabilities.

    The teacher scores class c by minus the squared distance to the class's mean image and takes
    softmax(score / T): every row is a real probability distribution, strictly positive, which is
    what KLDivLoss compares the model's log-probabilities against.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    flat = d.images.reshape(len(d.images), -1) / 16.0
    centroids = np.stack([flat[d.target == c].mean(0) for c in range(10)])
    dist2 = ((flat[:, None, :] - centroids[None]) ** 2).sum(-1)
    probs = torch.softmax(torch.as_tensor(-dist2 / TEACHER_TEMPERATURE, dtype=torch.float64), dim=1)
    x = torch.as_tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return Loaded(x, probs.float(), (1, 8, 8), 10, tuple(str(i) for i in range(10)))


def diabetes_pairs(cfg) -> Loaded:
    """Random pairs of distinct diabetes patients, inputs (N, 2, 10), target +1 when the first
    patient's disease progressed further than the second's, else -1 (ties are skipped).

    The pairs, not the patients, are split into training and validation, so a patient can appear
    on both sides; the features are standardised over all patients (no targets are involved).
    """
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    feats = (d.data - d.data.mean(0)) / d.data.std(0)
    n = cfg.samples or 3000
    rng = np.random.RandomState(0)
    a = rng.randint(0, len(feats), 2 * n)
    b = rng.randint(0, len(feats), 2 * n)
    keep = d.target[a] != d.target[b]
    a, b = a[keep][:n], b[keep][:n]
    x = torch.as_tensor(np.stack([feats[a], feats[b]], 1), dtype=torch.float32)
    y = torch.as_tensor(np.where(d.target[a] > d.target[b], 1.0, -1.0), dtype=torch.float32)
    return Loaded(x, y, (10,), 1)
