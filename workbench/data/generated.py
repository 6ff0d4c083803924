"""Generated datasets for tasks where nothing real ships offline. Each is deterministic (a fixed
random state), small, and drawn from a model whose structure a network can learn."""

from __future__ import annotations

import numpy as np
import torch

from . import Loaded


def spirals(cfg) -> Loaded:
    """Three spiral arms around the origin; each point's class is its arm (classification)."""
    n = cfg.samples or 1500
    noise = 0.2 if cfg.noise is None else cfg.noise
    rng = np.random.RandomState(0)
    arm = np.arange(n) % 3
    t = rng.uniform(0.0, 1.0, n)
    radius = 0.2 + 2.0 * t
    angle = 3.0 * np.pi * t + arm * 2.0 * np.pi / 3
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + rng.normal(
        0, noise * 0.3, (n, 2)
    )
    return Loaded(
        torch.as_tensor(x, dtype=torch.float32),
        torch.as_tensor(arm, dtype=torch.long),
        (2,),
        3,
        ("arm 0", "arm 1", "arm 2"),
        standardize_x=True,
    )


def multilabel(cfg) -> Loaded:
    """Bag-of-words documents with any of 5 topics; targets are multi-hot float rows (N, 5)."""
    from sklearn.datasets import make_multilabel_classification

    n = cfg.samples or 1000
    x, y = make_multilabel_classification(
        n_samples=n, n_features=20, n_classes=5, n_labels=2, allow_unlabeled=False, random_state=0
    )
    return Loaded(
        torch.as_tensor(x, dtype=torch.float32),
        torch.as_tensor(y, dtype=torch.float32),
        (20,),
        5,
        tuple(f"topic {i}" for i in range(5)),
        standardize_x=True,
    )


#: the true log-linear model of `counts`: log rate = BIAS + x @ WEIGHTS
COUNT_WEIGHTS = (0.6, -0.5, 0.4, 0.3, -0.3, 0.0)
COUNT_BIAS = 0.5


def counts(cfg) -> Loaded:
    """Counts y ~ Poisson(exp(b + x.w)) of standard normal features; targets float (N,)."""
    n = cfg.samples or 2000
    rng = np.random.RandomState(0)
    x = rng.normal(0.0, 1.0, (n, len(COUNT_WEIGHTS)))
    rate = np.exp(COUNT_BIAS + x @ np.asarray(COUNT_WEIGHTS))
    y = rng.poisson(rate)
    return Loaded(
        torch.as_tensor(x, dtype=torch.float32),
        torch.as_tensor(y, dtype=torch.float32),
        (len(COUNT_WEIGHTS),),
        1,
    )


RATINGS_USERS, RATINGS_ITEMS, RATINGS_RANK = 300, 200, 3


def ratings(cfg) -> Loaded:
    """User-item ratings from a low-rank model: 3.5 + user bias + item bias + <p_u, q_i> + noise.

    Inputs are (N, 2) long ids (user, item), targets (N, 1) float; each (user, item) pair occurs
    once. The embedding model learns one vector per id, so its gradients are sparse.
    """
    n = cfg.samples or 8000
    noise = 0.3 if cfg.noise is None else cfg.noise
    rng = np.random.RandomState(0)
    users, items, rank = RATINGS_USERS, RATINGS_ITEMS, RATINGS_RANK
    n = min(n, users * items)
    p = rng.normal(0, 1, (users, rank))
    q = rng.normal(0, 1, (items, rank))
    bu, bi = rng.normal(0, 0.4, users), rng.normal(0, 0.4, items)
    pairs = rng.choice(users * items, size=n, replace=False)
    u, i = pairs // items, pairs % items
    r = 3.5 + bu[u] + bi[i] + 0.5 * (p[u] * q[i]).sum(1) + rng.normal(0, noise, n)
    x = torch.as_tensor(np.stack([u, i], 1), dtype=torch.long)
    y = torch.as_tensor(r, dtype=torch.float32).unsqueeze(1)
    return Loaded(x, y, (2,), 1, standardize_y=True, extra={"num_users": users, "num_items": items})
