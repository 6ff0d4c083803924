"""The pieces of an exported script that depend on the experiment: the model class, the task's
forward and metrics, the loss's plumbing, and the optimizer's and scheduler's arguments.

Each piece is the plain-torch equivalent of a workbench part (nets.py, tasks.py, losses.py apply(),
schedulers.py); tests/test_export.py runs the script and compares its numbers with the engine's.
"""

from __future__ import annotations

from typing import Any

ACTIVATIONS = {"relu": "nn.ReLU", "tanh": "nn.Tanh", "gelu": "nn.GELU", "sigmoid": "nn.Sigmoid",
               "silu": "nn.SiLU", "leaky_relu": "nn.LeakyReLU", "elu": "nn.ELU"}

# -- models: the classes of nets.py, with the same layers in the same order (the same weights) ----
MLP = '''
class MLP(nn.Module):
    """Flatten, then Linear + activation (+ dropout) per hidden layer, then a Linear output."""

    def __init__(self, input_shape, num_outputs, hidden, activation, dropout):
        super().__init__()
        layers = [nn.Flatten()]
        width = math.prod(input_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), activation()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def make_model():
    return MLP(INPUT_SHAPE, NUM_OUTPUTS, HIDDEN, ACTIVATION, DROPOUT)
'''

CNN = '''
class CNN(nn.Module):
    """Conv -> activation (-> 2x2 max-pool while the image is at least 4 pixels), then a dense head."""

    def __init__(self, input_shape, num_outputs, channels, hidden, activation, dropout):
        super().__init__()
        c, h, w = input_shape
        blocks = []
        for ch in channels:
            blocks += [nn.Conv2d(c, ch, 3, padding=1), activation()]
            if min(h, w) >= 4:
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = ch
        self.features = nn.Sequential(*blocks)
        head = [nn.Flatten(), nn.Linear(c * h * w, hidden), activation()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_outputs))
        self.head = nn.Sequential(*head)

    def forward(self, x):
        return self.head(self.features(x))


def make_model():
    return CNN(INPUT_SHAPE, NUM_OUTPUTS, CHANNELS, HIDDEN, ACTIVATION, DROPOUT)
'''

EMBEDDING = '''
class Ratings(nn.Module):
    """rating(u, i) = <P_u, Q_i> + b_u + b_i; every parameter is an embedding."""

    def __init__(self, num_users, num_items, dim, sparse):
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


def make_model():
    return Ratings(NUM_USERS, NUM_ITEMS, DIM, SPARSE)
'''


def model_hyper(cfg: Any) -> dict[str, str]:
    """The model's hyperparameters as variable name -> Python source of the value."""
    if cfg.name == "mlp":
        return {"HIDDEN": repr(list(cfg.hidden)), "ACTIVATION": ACTIVATIONS[cfg.activation],
                "DROPOUT": repr(cfg.dropout)}
    if cfg.name == "cnn":
        return {"CHANNELS": repr(list(cfg.channels)), "HIDDEN": repr(cfg.hidden),
                "ACTIVATION": ACTIVATIONS[cfg.activation], "DROPOUT": repr(cfg.dropout)}
    if cfg.name == "embedding":
        return {"DIM": repr(cfg.dim), "SPARSE": repr(cfg.sparse)}
    return {"MODEL_KWARGS": repr(dict(cfg.kwargs))}


def model_code(cfg: Any, passes: tuple[str, ...]) -> str:
    """The model's class and `make_model()`; `passes`: what a user's class also takes of
    input_shape and num_outputs (as workbench passes them)."""
    if cfg.name != "custom":
        return {"mlp": MLP, "cnn": CNN, "embedding": EMBEDDING}[cfg.name]
    cls = cfg.path.rpartition(":")[2]
    given = {"input_shape": "input_shape=INPUT_SHAPE", "num_outputs": "num_outputs=NUM_OUTPUTS"}
    args = ", ".join(["**MODEL_KWARGS"] + [given[p] for p in passes])
    return f"\n\ndef make_model():\n    return {cls}({args})\n"


# -- tasks: how a batch meets the model, and the validation metrics (tasks.py) --------------------
ONE_COLUMN = ("    out = model(x)  # one output column -> (N,): the targets have no class axis\n"
              "    return out.squeeze(1) if out.dim() == 2 and out.shape[1] == 1 else out\n")
FORWARD = {
    "binary": ONE_COLUMN,
    "counts": ONE_COLUMN,
    "ranking": ("    n = x.shape[0]  # x: (N, 2, ...); the model scores each item of every pair\n"
                "    return model(x.reshape(n * 2, *x.shape[2:])).reshape(n, 2)\n"),
}

ACCURACY_FINISH = '''
def finish(sums, n):
    return {"accuracy": float(sums["correct"]) / n}
'''

METRICS = {
    "classification": '''
def metric_sums(out, y):
    return {"correct": (out.argmax(1) == y).sum()}
''' + ACCURACY_FINISH,
    "distribution": '''
def metric_sums(out, y):
    return {"correct": (out.argmax(1) == y.argmax(1)).sum()}  # the top class matches the target's
''' + ACCURACY_FINISH,
    "binary": '''
def metric_sums(out, y):
    return {"correct": ((out > 0) == (y > 0)).sum()}
''' + ACCURACY_FINISH,
    "ranking": '''
def metric_sums(out, y):
    return {"correct": (((out[:, 0] - out[:, 1]) > 0) == (y > 0)).sum()}  # pairs in the right order
''' + ACCURACY_FINISH,
    "multilabel": '''
def r_precision(out, positive):
    """Per sample: the share of its k true labels among its k highest scores (1 when k = 0)."""
    k = positive.sum(1, keepdim=True)
    rank = torch.argsort(torch.argsort(out, dim=1, descending=True, stable=True), dim=1)
    found = ((rank < k) & positive).sum(1).float()
    return torch.where(k.squeeze(1) > 0, found / k.squeeze(1).clamp_min(1), torch.ones_like(found))


def metric_sums(out, y):
    positive = y > 0.5
    hits = (out > 0) == positive
    return {"label_correct": hits.float().mean(1).sum(), "exact": hits.all(1).sum(),
            "r_precision": r_precision(out, positive).sum()}


def finish(sums, n):
    return {"accuracy": float(sums["label_correct"]) / n, "exact_match": float(sums["exact"]) / n,
            "r_precision": float(sums["r_precision"]) / n}
''',
    "regression": '''
def metric_sums(out, y):
    """Sums for R^2 over all outputs and the mean absolute error."""
    yf, of = y.reshape(y.shape[0], -1), out.reshape(out.shape[0], -1)
    return {"sse": ((of - yf) ** 2).sum(), "abs_err": (of - yf).abs().mean(1).sum(),
            "y_sum": yf.sum(0), "y_sq": (yf**2).sum(0)}


def finish(sums, n):
    sst = float((sums["y_sq"] - sums["y_sum"] ** 2 / n).sum())
    r2 = 1.0 - float(sums["sse"]) / sst if sst > 0 else 0.0
    return {"r2": r2, "mae": float(sums["abs_err"]) / n}
''',
    "counts": '''
def metric_sums(out, y):
    rate = out.exp()  # the model gives log-rates
    ylogy = torch.xlogy(y, y)
    deviance = 2 * (ylogy - y * out - (y - rate))
    return {"abs_err": (rate - y).abs().sum(), "deviance": deviance.sum(), "ylogy": ylogy.sum(),
            "y_sum": y.sum()}


def finish(sums, n):
    """Mean absolute error and the Poisson deviance explained (against a constant mean rate)."""
    y_sum = float(sums["y_sum"])
    null = 2 * (float(sums["ylogy"]) - (y_sum * math.log(y_sum / n) if y_sum > 0 else 0.0))
    explained = 1.0 - float(sums["deviance"]) / null if null > 0 else 0.0
    return {"mae": float(sums["abs_err"]) / n, "deviance_explained": explained}
''',
}


def forward_code(task: str) -> str:
    """`forward(model, x)`: the model's output for a batch, as the task's loss and metrics take it."""
    return "\n\ndef forward(model, x):\n" + FORWARD.get(task, "    return model(x)\n")


# -- losses: criterion(output, target) in torch's order, with what each loss needs (losses.py) ------
LABEL_INDICES = '''
def label_indices(y):
    """Multi-hot (N, C) -> MultiLabelMarginLoss's targets: the label indices, then -1 padding."""
    positive = y > 0.5
    order = torch.argsort((~positive).to(torch.int8), dim=1, stable=True)
    sorted_pos = torch.gather(positive, 1, order)
    return torch.where(sorted_pos, order, torch.full_like(order, -1))

'''


def loss_code(cfg: Any, task: str) -> str:
    """`compute_loss(criterion, out, y)`, with any helper it needs."""
    name, pre = cfg.name, ""
    call = "criterion(out, y)"
    if name == "NLLLoss":
        call = "criterion(F.log_softmax(out, dim=1), y)  # the model gives logits"
    elif name == "KLDivLoss":
        target = "y.clamp_min(1e-12).log()" if cfg.log_target else "y"
        call = (f"criterion(F.log_softmax(out, dim=1), {target})  "
                "# KLDivLoss takes log-probabilities")
    elif name == "PoissonNLLLoss" and not cfg.log_input:
        call = "criterion(out.exp(), y)  # the model gives log-rates; the loss takes rates"
    elif name == "MarginRankingLoss":
        call = "criterion(out[:, 0], out[:, 1], y)  # the scores of both items of each pair"
    elif name == "MultiLabelMarginLoss":
        pre, call = LABEL_INDICES, "criterion(out, label_indices(y))"
    elif name == "BCEWithLogitsLoss" and task == "binary":
        call = "criterion(out, (y + 1) / 2)  # targets -1/+1 -> 0/1"
    return f"\n\n{pre}def compute_loss(criterion, out, y):\n    return {call}\n"


# -- the scheduler's arguments that workbench fills from the run (schedulers.py) -----------------
def scheduler_kwargs(cfg: Any, mode: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """torch's scheduler arguments: the configured values, and for those left unset the source of
    the expression workbench computes (in the script's LR, MAX_EPOCHS and len(train_loader))."""
    values = cfg.model_dump(exclude=set(cfg.OWN), exclude_none=True)
    if cfg.monitors:
        values["mode"] = mode  # ReduceLROnPlateau: follows the metric unless set
    configured = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    periods = ("MAX_EPOCHS * len(train_loader)" if getattr(cfg, "interval", "epoch") == "step"
               else "MAX_EPOCHS")
    filled = {"CosineAnnealingLR": {"T_max": periods},
              "OneCycleLR": {"max_lr": "LR", "total_steps": periods},
              "CyclicLR": {"max_lr": "LR", "base_lr": "LR / 10"}}.get(cfg.name, {})
    return configured, {k: expr for k, expr in filled.items() if k not in configured}
