"""The built-in datasets written out as plain `load_data()` functions for an exported script.

Each entry is the source of a function that returns the whole dataset as `(x, y)` tensors, the
same tensors as the dataset's loader in `workbench.data` (tests/test_export.py compares them), with
only numpy, torch and scikit-learn. `SAMPLES` and `NOISE` are hyperparameters of the script for the
generated sets that take them. File-based sets and the user's own Dataset are not written out.
"""

from __future__ import annotations

#: dataset name -> (source of load_data, the hyperparameters it reads, their defaults)
SOURCES: dict[str, tuple[str, dict[str, float]]] = {}


def _add(name: str, source: str, **defaults: float) -> None:
    SOURCES[name] = (source.strip("\n") + "\n", defaults)


_add("digits", '''
def load_data():
    """scikit-learn's 1,797 8x8 digits: (N, 1, 8, 8) pixels in [0, 1] -> class indices 0..9."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.as_tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.as_tensor(d.target, dtype=torch.long)
''')

for _name, _fn in (("iris", "load_iris"), ("wine", "load_wine")):
    _add(_name, f'''
def load_data():
    """scikit-learn's {_name} set: measurements -> class indices."""
    from sklearn.datasets import {_fn}

    d = {_fn}()
    return torch.as_tensor(d.data, dtype=torch.float32), torch.as_tensor(d.target, dtype=torch.long)
''')

_add("breast_cancer", '''
def load_data():
    """569 tumours, 30 features -> -1 (malignant) or +1 (benign)."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    y = torch.as_tensor(d.target, dtype=torch.float32) * 2 - 1
    return torch.as_tensor(d.data, dtype=torch.float32), y
''')

_add("moons", '''
def load_data():
    """Two interleaving half circles in 2-D -> class 0 or 1."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=SAMPLES, noise=NOISE, random_state=0)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
''', SAMPLES=1000, NOISE=0.2)

_add("circles", '''
def load_data():
    """A small circle inside a large one in 2-D -> class 0 or 1."""
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=SAMPLES, noise=NOISE, factor=0.5, random_state=0)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
''', SAMPLES=1000, NOISE=0.1)

_add("diabetes", '''
def load_data():
    """442 patients, 10 features -> disease progression after a year, (N, 1)."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    y = torch.as_tensor(d.target, dtype=torch.float32).unsqueeze(1)
    return torch.as_tensor(d.data, dtype=torch.float32), y
''')

_add("spirals", '''
def load_data():
    """Three spiral arms around the origin; each point's class is its arm."""
    rng = np.random.RandomState(0)
    arm = np.arange(SAMPLES) % 3
    t = rng.uniform(0.0, 1.0, SAMPLES)
    radius = 0.2 + 2.0 * t
    angle = 3.0 * np.pi * t + arm * 2.0 * np.pi / 3
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + rng.normal(
        0, NOISE * 0.3, (SAMPLES, 2)
    )
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(arm, dtype=torch.long)
''', SAMPLES=1500, NOISE=0.2)

_add("multilabel", '''
def load_data():
    """Bag-of-words documents, 20 word counts -> any of 5 topics, multi-hot (N, 5)."""
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(
        n_samples=SAMPLES, n_features=20, n_classes=5, n_labels=2, allow_unlabeled=False,
        random_state=0)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
''', SAMPLES=1000)

_add("counts", '''
def load_data():
    """Counts y ~ Poisson(exp(0.5 + x @ w)) of 6 standard normal features."""
    weights = (0.6, -0.5, 0.4, 0.3, -0.3, 0.0)
    rng = np.random.RandomState(0)
    x = rng.normal(0.0, 1.0, (SAMPLES, len(weights)))
    y = rng.poisson(np.exp(0.5 + x @ np.asarray(weights)))
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
''', SAMPLES=2000)

_add("ratings", '''
def load_data():
    """Ratings of 200 items by 300 users from a rank-3 model; inputs (user, item) ids, (N, 2)."""
    users, items, rank = NUM_USERS, NUM_ITEMS, 3
    rng = np.random.RandomState(0)
    n = min(SAMPLES, users * items)
    p = rng.normal(0, 1, (users, rank))
    q = rng.normal(0, 1, (items, rank))
    bu, bi = rng.normal(0, 0.4, users), rng.normal(0, 0.4, items)
    pairs = rng.choice(users * items, size=n, replace=False)
    u, i = pairs // items, pairs % items
    r = 3.5 + bu[u] + bi[i] + 0.5 * (p[u] * q[i]).sum(1) + rng.normal(0, NOISE, n)
    x = torch.as_tensor(np.stack([u, i], 1), dtype=torch.long)
    return x, torch.as_tensor(r, dtype=torch.float32).unsqueeze(1)
''', SAMPLES=8000, NOISE=0.3)

_add("digits-soft", '''
def load_data():
    """Digits with a nearest-centroid teacher's class probabilities as targets, (N, 10)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    flat = d.images.reshape(len(d.images), -1) / 16.0
    centroids = np.stack([flat[d.target == c].mean(0) for c in range(10)])
    dist2 = ((flat[:, None, :] - centroids[None]) ** 2).sum(-1)
    probs = torch.softmax(torch.as_tensor(-dist2 / 1.0, dtype=torch.float64), dim=1)
    x = torch.as_tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, probs.float()
''')

_add("diabetes-pairs", '''
def load_data():
    """Pairs of diabetes patients, (N, 2, 10) -> +1 if the first progressed further, else -1."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    feats = (d.data - d.data.mean(0)) / d.data.std(0)
    rng = np.random.RandomState(0)
    a = rng.randint(0, len(feats), 2 * SAMPLES)
    b = rng.randint(0, len(feats), 2 * SAMPLES)
    keep = d.target[a] != d.target[b]  # ties are skipped
    a, b = a[keep][:SAMPLES], b[keep][:SAMPLES]
    x = torch.as_tensor(np.stack([feats[a], feats[b]], 1), dtype=torch.float32)
    y = torch.as_tensor(np.where(d.target[a] > d.target[b], 1.0, -1.0), dtype=torch.float32)
    return x, y
''', SAMPLES=3000)


def settings(name: str, samples: int | None, noise: float | None) -> dict[str, float]:
    """The values of the hyperparameters `name`'s load_data reads, the config's or the defaults."""
    defaults = SOURCES[name][1]
    given = {"SAMPLES": samples, "NOISE": noise}
    return {k: given[k] if given[k] is not None else v for k, v in defaults.items()}
