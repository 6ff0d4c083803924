"""Datasets: every built-in set loads in its task's format; the file-based sets read files the
tests write (IDX, CIFAR batches, images, CSV) and explain what is missing when they cannot."""

import gzip
import pickle
import struct
import sys

import numpy as np
import pytest
import torch

from workbench.config import DataConfig, InvalidExperiment, validate
from workbench.data import DATASETS, TORCHVISION, DataError, load
from workbench.data.vision import read_idx
from workbench.engine import train
from workbench.events import RunFinished

BUILT_IN = [n for n, d in DATASETS.items() if not d.optional]
OPTIONAL = [n for n, d in DATASETS.items() if d.optional]


def cfg(name: str, **kw):
    """A DataConfig alone: the loaders' own messages, also for files `validate` would refuse."""
    return DataConfig(name=name, **kw)


def _a_loss(dataset: str) -> str:
    from workbench.catalog import LOSSES

    task = DATASETS[dataset].task
    return next(n for n, c in LOSSES.items() if task in c.tasks or task == "any")


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_dataset_has_its_tasks_format(name):
    info = DATASETS[name]
    d = load(cfg(name))
    again = load(cfg(name))
    assert torch.equal(d.x, again.x) and torch.equal(d.y, again.y)  # deterministic
    n = d.x.shape[0]
    assert 100 <= n <= 10_000 and d.y.shape[0] == n
    assert d.num_outputs == info.num_outputs
    x, y = d.x, d.y
    if info.task == "classification":
        assert y.dtype == torch.long and y.shape == (n,)
        assert set(y.unique().tolist()) == set(range(d.num_outputs))
    elif info.task == "binary":
        assert (
            y.dtype == torch.float32 and y.shape == (n,) and set(y.unique().tolist()) == {-1.0, 1.0}
        )
    elif info.task == "multilabel":
        assert y.dtype == torch.float32 and y.shape == (n, d.num_outputs)
        assert set(y.unique().tolist()) == {0.0, 1.0} and (y.sum(1) > 0).all()
    elif info.task == "regression":
        assert y.dtype == torch.float32 and y.shape == (n, 1)
    elif info.task == "counts":
        assert y.dtype == torch.float32 and y.shape == (n,)
        assert (y >= 0).all() and torch.equal(y, y.round()) and y.max() > 3
    elif info.task == "distribution":
        assert y.dtype == torch.float32 and y.shape == (n, d.num_outputs)
        assert (y > 0).all() and torch.allclose(y.sum(1), torch.ones(n), atol=1e-5)
    elif info.task == "ranking":
        assert x.dim() == 3 and x.shape[1] == 2 and x.shape[2:] == d.input_shape
        assert y.dtype == torch.float32 and set(y.unique().tolist()) == {-1.0, 1.0}
    if info.input_kind == "ids":
        assert x.dtype == torch.long and x.shape == (n, 2)
        assert x[:, 0].max() < d.extra["num_users"] and x[:, 1].max() < d.extra["num_items"]
        assert len({(u, i) for u, i in x.tolist()}) == n  # each pair rated once
    elif info.task != "ranking":
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == d.input_shape
    if info.input_kind == "image":
        assert len(d.input_shape) == 3


@pytest.mark.parametrize(
    "name", ["moons", "circles", "spirals", "multilabel", "counts", "ratings", "diabetes-pairs"]
)
def test_generated_sets_take_their_size_from_data_samples(name):
    assert load(cfg(name, samples=200)).x.shape[0] == 200


def test_diabetes_pairs_follow_the_targets():
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    feats = (d.data - d.data.mean(0)) / d.data.std(0)
    pairs = load(cfg("diabetes-pairs"))
    # find each item's patient by its features and check the order of their targets
    for k in range(20):
        a = np.abs(feats - pairs.x[k, 0].numpy()).sum(1).argmin()
        b = np.abs(feats - pairs.x[k, 1].numpy()).sum(1).argmin()
        assert np.sign(d.target[a] - d.target[b]) == pairs.y[k].item()


def test_digits_soft_teacher_mostly_agrees_with_the_labels():
    from sklearn.datasets import load_digits

    soft = load(cfg("digits-soft"))
    agree = (soft.y.argmax(1).numpy() == load_digits().target).mean()
    assert 0.85 < agree < 1.0 and 0.5 < soft.y.max(1).values.mean() < 0.9  # soft, not one-hot


@pytest.mark.parametrize("name", OPTIONAL)
def test_file_based_sets_need_a_path(name):
    with pytest.raises(InvalidExperiment) as e:
        validate(
            {"data": {"name": name}, "model": {"name": "mlp"}, "loss": {"name": _a_loss(name)}}
        )
    assert any(p.path == "data.path" and "set data.path" in p.message for p in e.value.problems)


# -- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------------


def write_idx(path, array: np.ndarray, gz: bool = False) -> None:
    codes = {
        np.dtype("uint8"): 0x08,
        np.dtype("int8"): 0x09,
        np.dtype(">i2"): 0x0B,
        np.dtype(">i4"): 0x0C,
        np.dtype(">f4"): 0x0D,
        np.dtype(">f8"): 0x0E,
    }
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    head = bytes([0, 0, codes[big.dtype], array.ndim]) + struct.pack(
        f">{array.ndim}i", *array.shape
    )
    data = head + big.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", ">i4", ">f4", ">f8"])
def test_idx_reader_round_trips(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype if dtype != "uint8" else "uint8")
    if dtype == "uint8":
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", a)
    write_idx(tmp_path / "a.idx.gz", a, gz=True)
    for f in ("a.idx", "a.idx.gz"):
        got = read_idx(tmp_path / f)
        assert got.shape == (2, 3, 4) and np.array_equal(got, a)


def test_idx_reader_refuses_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "ok", np.zeros((4, 5), dtype=np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "ok").read_bytes()[:-3])
    with pytest.raises(DataError, match=r"ended after 29 of 32 bytes: an interrupted download\?"):
        read_idx(tmp_path / "short")


def tiny_mnist(root, folder="MNIST", n_train=40, n_test=10):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (n_train + n_test, 28, 28)).astype(np.uint8)
    labels = (np.arange(n_train + n_test) % 10).astype(np.uint8)
    write_idx(raw / "train-images-idx3-ubyte", images[:n_train])
    write_idx(raw / "train-labels-idx1-ubyte.gz", labels[:n_train], gz=True)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images[n_train:], gz=True)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[n_train:])
    return images, labels


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_from_idx_files(tmp_path, name, folder):
    images, labels = tiny_mnist(tmp_path, folder)
    d = load(cfg(name, path=str(tmp_path)))
    assert (
        d.x.shape == (50, 1, 28, 28) and d.x.dtype == torch.float32 and d.input_shape == (1, 28, 28)
    )
    assert torch.allclose(d.x[:, 0], torch.as_tensor(images, dtype=torch.float32) / 255)
    assert d.y.tolist() == labels.tolist() and d.num_outputs == 10 and len(d.class_names) == 10


def test_mnist_trains_end_to_end(tmp_path):
    tiny_mnist(tmp_path)
    exp = validate(
        {
            "data": {"name": "mnist", "path": str(tmp_path), "batch_size": 8},
            "model": {"name": "cnn", "channels": [4], "hidden": 8},
            "train": {"max_epochs": 1, "device": "cpu"},
        }
    )
    result = train(exp, checkpoint=False)
    assert isinstance(result, RunFinished) and "val_accuracy" in result.final


def test_missing_mnist_says_what_to_install_and_where(tmp_path):
    with pytest.raises(DataError) as e:
        load(cfg("mnist", path=str(tmp_path)))
    msg = str(e.value)
    assert TORCHVISION in msg and "pip install torch==2.14.1 torchvision==0.29.1" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg and "train-images-idx3-ubyte" in msg
    assert f"MNIST('{tmp_path}', download=True)" in msg
    # validate says the same before a run starts
    with pytest.raises(InvalidExperiment) as e:
        validate({"data": {"name": "mnist", "path": str(tmp_path)}, "train": {"device": "cpu"}})
    assert [p.path for p in e.value.problems] == ["data.path"]
    assert TORCHVISION in e.value.problems[0].message


# -- CIFAR-10 ---------------------------------------------------------------------------------------


def test_cifar10_binary_and_python_batches(tmp_path):
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, (12, 3, 32, 32)).astype(np.uint8)
    labels = np.arange(12) % 10
    binary = tmp_path / "bin" / "cifar-10-batches-bin"
    binary.mkdir(parents=True)
    for name, sl in (("data_batch_1", slice(0, 8)), ("test_batch", slice(8, 12))):
        recs = np.concatenate([labels[sl, None].astype(np.uint8), images[sl].reshape(-1, 3072)], 1)
        (binary / f"{name}.bin").write_bytes(recs.tobytes())
    py = tmp_path / "py" / "cifar-10-batches-py"
    py.mkdir(parents=True)
    for name, sl in (("data_batch_1", slice(0, 8)), ("test_batch", slice(8, 12))):
        with (py / name).open("wb") as f:
            pickle.dump({b"data": images[sl].reshape(-1, 3072), b"labels": labels[sl].tolist()}, f)
    for root in ("bin", "py"):
        d = load(cfg("cifar10", path=str(tmp_path / root)))
        assert d.x.shape == (12, 3, 32, 32) and d.input_shape == (3, 32, 32)
        assert torch.allclose(d.x, torch.as_tensor(images, dtype=torch.float32) / 255)
        assert d.y.tolist() == labels.tolist() and d.class_names[0] == "airplane"


class _Boom:
    def __reduce__(self):
        return (print, ("this must not run",))


def test_cifar10_refuses_a_pickle_that_would_run_code(tmp_path, capsys):
    py = tmp_path / "cifar-10-batches-py"
    py.mkdir()
    (py / "data_batch_1").write_bytes(pickle.dumps({b"data": _Boom(), b"labels": [0]}))
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        load(cfg("cifar10", path=str(tmp_path)))
    assert "this must not run" not in capsys.readouterr().out


def test_missing_cifar_says_what_to_install_and_where(tmp_path):
    with pytest.raises(DataError) as e:
        load(cfg("cifar10", path=str(tmp_path)))
    assert TORCHVISION in str(e.value) and "cifar-10-batches-bin" in str(e.value)


# -- image folders ----------------------------------------------------------------------------------


def test_imagefolder_reads_class_folders(tmp_path):
    from PIL import Image

    for c, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.new("RGB" if i else "L", (40 + i, 20), colour if i else 128).save(
                tmp_path / c / f"{i}.png"
            )
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    d = load(cfg("imagefolder", path=str(tmp_path)))
    assert d.x.shape == (6, 3, 32, 32) and d.class_names == ("cats", "dogs") and d.num_outputs == 2
    assert d.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.allclose(d.x[1, :, 5, 5], torch.tensor([1.0, 0.0, 0.0]))  # red cat, channels first


def test_imagefolder_without_pillow_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DataError, match=r"Pillow.*pip install pillow"):
        load(cfg("imagefolder", path=str(tmp_path)))


def test_imagefolder_with_one_class_is_refused(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(
        DataError, match=r"missing is not a folder; put your images in .*/<class name>/"
    ):
        load(cfg("imagefolder", path=str(tmp_path / "missing")))
    with pytest.raises(DataError, match="at least two class folders"):
        load(cfg("imagefolder", path=str(tmp_path)))


# -- CSV --------------------------------------------------------------------------------------------

CSV = "a,b,label,price\n1,2,cat,10.5\n3,4,dog,11\n5,6.5,cat,12\n7,8,bird,9\n"


def test_csv_regression_uses_the_last_column_by_default(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("a,b,price\n1,2,10.5\n3,4,11\n5,6.5,12\n")
    d = load(cfg("csv", path=str(f)))
    assert d.x.tolist() == [[1, 2], [3, 4], [5, 6.5]] and d.y.tolist() == [[10.5], [11], [12]]
    assert d.standardize_x and d.standardize_y and d.num_outputs == 1


def test_csv_classes_with_a_named_target(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text(CSV.replace("cat", "1").replace("dog", "2").replace("bird", "10"))
    d = load(cfg("csv-classes", path=str(f), target="label"))
    assert d.x.tolist() == [[1, 2, 10.5], [3, 4, 11], [5, 6.5, 12], [7, 8, 9]]
    assert d.class_names == ("1", "2", "10") and d.y.tolist() == [0, 1, 0, 2]  # sorted as numbers
    f.write_text(CSV.replace(",label", ",kind"))
    with pytest.raises(
        DataError, match=r"data.target = 'label' is not a column .*columns: a, b, kind, price"
    ):
        load(cfg("csv-classes", path=str(f), target="label"))


def test_csv_problems_name_line_and_column(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text(CSV)
    with pytest.raises(DataError, match=r"line 2, column 'label': 'cat' is not a number"):
        load(cfg("csv", path=str(f), target="price"))
    with pytest.raises(
        DataError, match=r"line 2: target 'label' = 'cat' is not a number.*csv-classes"
    ):
        load(cfg("csv", path=str(f), target="label"))
    f.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3 has 1 cells, the header has 2"):
        load(cfg("csv", path=str(f)))
    with pytest.raises(DataError, match="no file"):
        load(cfg("csv", path=str(tmp_path / "nope.csv")))


def test_csv_trains_end_to_end(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(60, 3))
    f = tmp_path / "t.csv"
    f.write_text("x1,x2,x3,y\n" + "".join(f"{a},{b},{c},{a - 2 * b}\n" for a, b, c in x))
    exp = validate(
        {
            "data": {"name": "csv", "path": str(f)},
            "loss": {"name": "MSELoss"},
            "train": {"max_epochs": 2, "device": "cpu"},
        }
    )
    assert isinstance(train(exp, checkpoint=False), RunFinished)


# -- damaged files: the file's name and what is wrong, as a DataError -----------------------------


def test_damaged_idx_files_say_what_is_wrong(tmp_path):
    a = np.arange(600, dtype=np.uint8).reshape(6, 10, 10)
    write_idx(tmp_path / "ok.gz", a, gz=True)
    whole = (tmp_path / "ok.gz").read_bytes()
    cases = {
        "cut.gz": (whole[: len(whole) // 2], r"cut.gz: ended after [\d,]+ of 616 bytes \(uncompressed\): "
                                             r"an interrupted download\?"),
        "notgz.gz": (b"plain bytes, not gzip", r"notgz.gz: not a gzip file: an interrupted download\?"),
        "corrupt.gz": (whole[:10] + b"\xff" * 40 + whole[50:], r"corrupt.gz: a corrupt gzip file"),
        "magic": (b"\x00\x00\x07\x03" + bytes(20), r"magic is not an IDX file \(bad magic number 00 00 07 03\)"),
        "header": (b"\x00\x00\x08\x03\x00\x00", r"header is not an IDX file \(6 bytes, too short"),
        "long": (gzip.decompress(whole) + b"xx", r"long: 618 bytes, but its header \(6, 10, 10\) says 616"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=message):
            read_idx(tmp_path / name)


def test_idx_labels_out_of_range_name_the_labels_file(tmp_path):
    images, labels = tiny_mnist(tmp_path)
    labels[3] = 12
    write_idx(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz", labels[:40], gz=True)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: labels must be 0..9, found 0..12"):
        load(cfg("mnist", path=str(tmp_path)))


def test_damaged_cifar_batches_say_what_is_wrong(tmp_path):
    binary = tmp_path / "b" / "cifar-10-batches-bin"
    binary.mkdir(parents=True)
    (binary / "data_batch_1.bin").write_bytes(bytes(3073 * 2 + 100))
    with pytest.raises(DataError, match=r"data_batch_1.bin: ended after 6,246 of 30,730,000 bytes: "
                                        r"an interrupted download\?"):
        load(cfg("cifar10", path=str(tmp_path / "b")))
    (binary / "data_batch_1.bin").write_bytes(bytes([11]) + bytes(3072))
    with pytest.raises(DataError, match=r"data_batch_1.bin: labels must be 0..9, found 11..11"):
        load(cfg("cifar10", path=str(tmp_path / "b")))
    py = tmp_path / "p" / "cifar-10-batches-py"
    py.mkdir(parents=True)
    whole = pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]})
    (py / "data_batch_1").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"data_batch_1: ended after [\d,]+ bytes, before the end of its "
                                        r"data: an interrupted download\?"):
        load(cfg("cifar10", path=str(tmp_path / "p")))
    (py / "data_batch_1").write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0]}))
    with pytest.raises(DataError, match="data_batch_1: not a CIFAR-10 python batch"):
        load(cfg("cifar10", path=str(tmp_path / "p")))


def test_csv_values_that_are_not_finite(tmp_path):
    (tmp_path / "n.csv").write_text("a,b,y\n1,2,3\n4,nan,6\n")
    with pytest.raises(DataError, match=r"n.csv line 3, column 'b': 'nan' is not a finite number"):
        load(cfg("csv", path=str(tmp_path / "n.csv")))
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,3\n4,5,inf\n")
    with pytest.raises(DataError, match=r"t.csv line 3: target 'y' = 'inf' is not a finite number"):
        load(cfg("csv", path=str(tmp_path / "t.csv")))


@pytest.mark.parametrize("name", BUILT_IN)
def test_documented_formats_are_what_a_model_receives(name):
    """`workbench list datasets` and the README say what a batch holds: keep them true."""
    from workbench.data import FORMATS, split

    exp = validate({"data": {"name": name, "batch_size": 4}, "model": {"name": "mlp" if name != "ratings" else "embedding"},
                    "loss": {"name": _a_loss(name)}, "optimizer": {"name": "SGD" if name == "ratings" else "Adam"}})
    s = split(load(exp.data), 0.2, 0)
    x, y = s.train_x[:4], s.train_y[:4]
    for tensor, text in zip((x, y), FORMATS[name].split(" -> ")):
        shape, dtype = text.split(") ")[0] + ")", text.split(") ")[1].split()[0]
        assert shape == str((4, *tensor.shape[1:])).replace("(4", "(B"), (name, text)
        assert dtype == str(tensor.dtype).removeprefix("torch."), (name, text)
    if "in [0, 1]" in FORMATS[name].split(" -> ")[0]:
        assert float(s.train_x.min()) >= 0 and float(s.train_x.max()) <= 1


def test_every_dataset_documents_its_format():
    from workbench.data import FORMATS

    assert set(FORMATS) == set(DATASETS)
