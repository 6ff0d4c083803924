"""What can be picked, as plain data: each model, loss and optimizer by its torch name, with its
one-line summary and what it fits. Datasets have theirs in `data.DATASETS`.

Importing this costs nothing (no pydantic, no torch): the app's first frame lists these, and the
pydantic classes that validate each one's arguments (`models`, `losses`, `optimizers`) load after.
A new model, loss or optimizer needs its class there and its line here, in the same order
(tests/test_catalog.py checks that the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass

from .data import DATASETS


@dataclass(frozen=True)
class Choice:
    name: str
    summary: str
    tasks: tuple[str, ...] = ()  # a loss: the tasks whose targets it accepts (see `tasks.py`)
    inputs: tuple[str, ...] = ()  # a model: the input kinds it reads (DatasetInfo.input_kind)


def _by_name(*choices: Choice) -> dict[str, Choice]:
    return {c.name: c for c in choices}


MODELS = _by_name(
    Choice('mlp', 'multi-layer perceptron on flattened inputs (hidden = [] is linear)', inputs=('image', 'features', 'any')),
    Choice('cnn', 'small LeNet-style convolutional net for images', inputs=('image', 'any')),
    Choice('embedding', 'user/item embeddings with biases (matrix factorisation), sparse gradients', inputs=('ids',)),
    Choice('custom', "your own nn.Module: path = 'pkg.module:Class' or 'file.py:Class' (runs its code)", inputs=('image', 'features', 'ids', 'any')),
)

LOSSES = _by_name(
    Choice('CrossEntropyLoss', 'softmax cross entropy on class logits', tasks=('classification',)),
    Choice('NLLLoss', 'negative log likelihood (the task applies log_softmax)', tasks=('classification',)),
    Choice('BCEWithLogitsLoss', 'sigmoid + binary cross entropy, per label', tasks=('multilabel', 'binary')),
    Choice('MultiLabelSoftMarginLoss', 'one-vs-all logistic loss over labels', tasks=('multilabel',)),
    Choice('MultiLabelMarginLoss', 'multi-label hinge; targets are -1-padded label indices', tasks=('multilabel',)),
    Choice('SoftMarginLoss', 'logistic loss for targets in {-1, +1}', tasks=('binary',)),
    Choice('MSELoss', 'mean squared error', tasks=('regression',)),
    Choice('L1Loss', 'mean absolute error', tasks=('regression',)),
    Choice('SmoothL1Loss', 'L1 with a quadratic zone of width beta', tasks=('regression',)),
    Choice('HuberLoss', 'Huber loss: quadratic within delta, linear beyond', tasks=('regression',)),
    Choice('PoissonNLLLoss', 'Poisson negative log likelihood for count targets', tasks=('counts',)),
    Choice('KLDivLoss', 'KL divergence to a target distribution (input: log-probabilities)', tasks=('distribution',)),
    Choice('MarginRankingLoss', 'hinge on the score difference of a pair, target +1/-1', tasks=('ranking',)),
)

OPTIMIZERS = _by_name(
    Choice('ASGD', 'averaged stochastic gradient descent'),
    Choice('Adadelta', 'adaptive learning rate from running averages of updates'),
    Choice('Adagrad', 'per-parameter rates from accumulated squared gradients'),
    Choice('Adam', 'adaptive moments (Kingma & Ba)'),
    Choice('AdamW', 'Adam with decoupled weight decay'),
    Choice('Adamax', 'Adam with the infinity norm'),
    Choice('LBFGS', 'quasi-Newton with a closure (full-batch method)'),
    Choice('RMSprop', 'divides by a running RMS of gradients'),
    Choice('Rprop', 'resilient backprop: sign-based steps (full-batch method)'),
    Choice('SGD', 'stochastic gradient descent, optional (Nesterov) momentum'),
    Choice('SparseAdam', 'Adam for sparse gradients (embeddings with sparse=True)'),
)


def fitting_datasets(loss_name: str) -> list[str]:
    """The datasets (shipped or generated, no extra package needed) whose targets the loss takes."""
    tasks = LOSSES[loss_name].tasks
    return [d.name for d in DATASETS.values() if d.task in tasks and not d.optional]


def fitting_losses(task: str) -> list[str]:
    return [n for n, c in LOSSES.items() if task in c.tasks]


def fitting_models(input_kind: str) -> list[str]:
    return [n for n, c in MODELS.items() if input_kind in c.inputs]
