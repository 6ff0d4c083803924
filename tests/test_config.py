"""Schema bounds and messages, unknown keys, names, cross-section rules."""

import math

import pytest

from workbench.config import InvalidExperiment, validate, warnings_for
from workbench.optimizers import OPTIMIZERS


def problems(raw):
    with pytest.raises(InvalidExperiment) as e:
        validate(raw)
    return [str(p) for p in e.value.problems]


def test_defaults_are_valid():
    exp = validate({})
    assert exp.data.name == "digits" and exp.loss.name == "CrossEntropyLoss"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"optimizer": {"name": "SGD", "lr": -1}}, "optimizer.lr: must be > 0.0, got -1"),
        ({"optimizer": {"name": "Adam", "lr": math.nan}}, "optimizer.lr: must be a finite number, got nan"),
        ({"optimizer": {"name": "Adam", "betas": [0.9, 1.0]}}, "optimizer.betas.1: must be < 1.0, got 1.0"),
        ({"optimizer": {"name": "SGD", "momentum": -0.1}}, "optimizer.momentum: must be >= 0.0"),
        ({"data": {"batch_size": 0}}, "data.batch_size: must be >= 1, got 0"),
        ({"data": {"val_fraction": 1.0}}, "data.val_fraction: must be < 1.0, got 1.0"),
        ({"data": {"batch_size": "x"}}, "data.batch_size: must be a whole number, got 'x'"),
        ({"train": {"device": "gpu"}}, "train.device: must be auto, cpu, cuda, cuda:N (N = 0..99) or mps, got 'gpu'"),
        # torch.device refuses a leading zero: caught here, not as a crash at the run's start
        ({"train": {"device": "cuda:01"}}, "train.device: must be auto, cpu, cuda, cuda:N"),
        ({"train": {"max_epochs": 10**9}}, "train.max_epochs: must be <= 100000"),
    ],
)
def test_bounds_name_the_field(raw, expected):
    assert any(p.startswith(expected) for p in problems(raw)), problems(raw)


def test_unknown_key_suggests_near_miss():
    (msg,) = problems({"optimizer": {"name": "Adam", "learning_rate": 0.1}})
    assert msg.startswith("optimizer.learning_rate: unknown key 'learning_rate' in [optimizer]")
    assert "did you mean 'lr'?" in msg


def test_argument_of_another_optimizer_says_why():
    (msg,) = problems({"optimizer": {"name": "Adam", "momentum": 0.9}})
    assert "Adam takes no argument 'momentum'" in msg


def test_unknown_names_suggest():
    assert "did you mean 'CrossEntropyLoss'?" in problems({"loss": {"name": "CrossEntropy"}})[0]
    assert "did you mean 'Adam'?" in problems({"optimizer": {"name": "Adamm"}})[0]
    assert "did you mean 'digits'?" in problems({"data": {"name": "digit"}})[0]
    assert "unknown key 'sed' at the top level; did you mean 'seed'?" in problems({"sed": 1})[0]


def test_deprecated_torch_arguments_are_not_offered():
    for name in ("MSELoss", "CrossEntropyLoss"):
        msgs = problems({"data": {"name": "diabetes"}, "loss": {"name": name, "size_average": True}})
        assert any("size_average" in m for m in msgs)


def test_every_seed_optimizer_has_a_class_with_torch_defaults():
    import inspect

    import torch

    assert sorted(OPTIMIZERS) == sorted(
        "ASGD Adadelta Adagrad Adam AdamW Adamax LBFGS RMSprop Rprop SGD SparseAdam".split()
    )
    for name, cls in OPTIMIZERS.items():
        sig = inspect.signature(getattr(torch.optim, name).__init__).parameters
        for field, info in cls.model_fields.items():
            if field == "name":
                continue
            assert field in sig, (name, field)
            default = sig[field].default
            ours = info.default
            if isinstance(default, tuple):
                assert tuple(ours) == pytest.approx(default), (name, field)
            else:
                assert ours == default, (name, field)


def test_loss_task_mismatch_names_a_fitting_dataset():
    (msg,) = problems({"data": {"name": "diabetes"}, "loss": {"name": "CrossEntropyLoss"}})
    assert msg.startswith("loss.name: CrossEntropyLoss needs a classification dataset, such as 'digits'")


def test_sparseadam_needs_sparse_gradients():
    (msg,) = problems({"optimizer": {"name": "SparseAdam"}})
    assert "sparse gradients" in msg and msg.startswith("optimizer.name")


def test_cnn_refuses_tabular_data():
    msgs = problems({"data": {"name": "diabetes"}, "model": {"name": "cnn"}, "loss": {"name": "MSELoss"}})
    assert any(m.startswith("model.name: model 'cnn' cannot read 'diabetes'") for m in msgs)


def test_full_batch_methods_warn_on_small_batches():
    exp = validate({"optimizer": {"name": "LBFGS"}})
    assert any("full-batch" in w for w in warnings_for(exp))
    exp = validate({"optimizer": {"name": "LBFGS"}, "data": {"full_batch": True}})
    assert not warnings_for(exp)


def test_nesterov_needs_momentum():
    msgs = problems({"optimizer": {"name": "SGD", "nesterov": True}})
    assert msgs == ["optimizer.nesterov: Nesterov momentum needs momentum > 0 and dampening = 0"]


# -- paths a run would miss, found without running code -----------------------------------------

def _problems(raw) -> dict[str, str]:
    with pytest.raises(InvalidExperiment) as e:
        validate(raw)
    return {p.path: p.message for p in e.value.problems}


NET = "import torch\n\nclass Net(torch.nn.Module):\n    pass\n\ndef make_net():\n    return Net()\n"


@pytest.mark.parametrize("section,extra", [("model", {}), ("data", {"task": "classification"})])
def test_a_name_the_file_does_not_define_gets_a_suggestion(section, extra, tmp_path):
    (tmp_path / "net.py").write_text(NET)
    raw = {section: {"name": "custom", "path": f"{tmp_path}/net.py:Nett", **extra}}
    assert _problems(raw) == {f"{section}.path": f"{tmp_path}/net.py defines no 'Nett'; did you mean 'Net'?"}
    raw[section]["path"] = f"{tmp_path}/net.py:net"  # case only
    assert "did you mean 'Net'?" in _problems(raw)[f"{section}.path"]
    raw[section]["path"] = f"{tmp_path}/net.py:make_net"  # a function is fine
    validate(raw)


def test_what_ast_can_and_cannot_know(tmp_path):
    f = tmp_path / "m.py"
    for text in ("from torch.nn import *\n", "def __getattr__(name):\n    return 1\n",
                 "try:\n    from fast import Net\nexcept ImportError:\n    Net = None\n",
                 "if True:\n    class Net: pass\n", "import torch as Net\n"):
        f.write_text(text)  # names that may be defined: not refused
        validate({"model": {"name": "custom", "path": f"{f}:Net"}})
    f.write_text("class Net(:\n")
    assert _problems({"model": {"name": "custom", "path": f"{f}:Net"}})["model.path"] == \
        f"{f}: syntax error at line 1: invalid syntax"


def test_missing_files_and_bad_forms(tmp_path):
    assert _problems({"data": {"name": "custom", "path": f"{tmp_path}/nope.py:D", "task": "regression"},
                      "loss": {"name": "MSELoss"}}) == {"data.path": f"no file '{tmp_path}/nope.py'"}
    assert "must look like 'file.py:Dataset'" in _problems(
        {"data": {"name": "custom", "path": "nope.py", "task": "classification"}})["data.path"]
    # a module path is not imported to check it: that would run the package's code
    validate({"data": {"name": "custom", "path": "some_pkg.data:Set", "task": "classification"}})


def test_a_data_folder_without_the_files_its_dataset_reads(tmp_path):
    (tmp_path / "one" / "cats").mkdir(parents=True)
    (tmp_path / "one" / "cats" / "a.png").write_bytes(b"")
    cases = [
        ("mnist", tmp_path, "mnist: no IDX files in"),
        ("fashion_mnist", tmp_path, "fashion_mnist: no IDX files in"),
        ("cifar10", tmp_path, "cifar10: no CIFAR-10 batches in"),
        ("imagefolder", tmp_path / "one", "needs at least two class folders with images"),
        ("csv-classes", tmp_path, "is not a file"),
        ("mnist", tmp_path / "nowhere", "no file or folder"),
    ]
    for name, path, message in cases:
        got = _problems({"data": {"name": name, "path": str(path)}, "model": {"name": "mlp"}})
        assert list(got) == ["data.path"] and message in got["data.path"], (name, got)


def test_custom_data_needs_its_task_and_the_custom_keys_need_custom_data(tmp_path):
    (tmp_path / "d.py").write_text("class D: pass\n")
    path = f"{tmp_path}/d.py:D"
    assert "needs its task" in _problems({"data": {"name": "custom", "path": path}})["data.task"]
    assert _problems({"data": {"name": "custom", "path": path, "task": "clasification"}})["data.task"] \
        .startswith("unknown task 'clasification'; did you mean 'classification'?")
    got = _problems({"data": {"name": "digits", "kwargs": {"n": 1}, "num_outputs": 3}})
    assert set(got) == {"data.kwargs", "data.num_outputs"}
    assert "only a custom dataset" in got["data.kwargs"]
    # the loss must fit the task the user declared
    assert "MSELoss needs a regression dataset" in _problems(
        {"data": {"name": "custom", "path": path, "task": "classification"},
         "loss": {"name": "MSELoss"}})["data.task"]
    assert "embedding" in _problems({"data": {"name": "custom", "path": path, "task": "regression"},
                                     "model": {"name": "embedding"}, "loss": {"name": "MSELoss"}})["model.name"]
