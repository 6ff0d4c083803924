"""The user's CSV file: a header row, numeric feature columns and one target column.

`csv` treats the target as a number (regression), `csv-classes` as a class label (any text; the
classes are the sorted distinct labels, numerically sorted when all are numbers). The target is
`data.target`, or the last column when it is not set. Features are standardised on the training
split; so are regression targets.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from . import DataError, Loaded

MAX_BYTES = 500_000_000


def _read(cfg) -> tuple[list[str], list[list[str]], int, Path]:
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"csv: no file {path}; set data.path to a CSV file with a header row")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(
            f"csv: {path} is larger than {MAX_BYTES:,} bytes; every set is held in memory"
        )
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"csv: cannot read {path}: {e}") from None
    if len(rows) < 2:
        raise DataError(f"csv: {path} needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if len(header) < 2:
        raise DataError(f"csv: {path} needs at least one feature column and a target column")
    target = cfg.target or header[-1]
    if target not in header:
        raise DataError(
            f"csv: data.target = {target!r} is not a column of {path} (columns: {', '.join(header)})"
        )
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"csv: {path} line {i} has {len(row)} cells, the header has {len(header)}"
            )
    return header, body, header.index(target), path


def _features(header, body, t, path) -> torch.Tensor:
    cols = [j for j in range(len(header)) if j != t]
    values = []
    for i, row in enumerate(body, start=2):
        try:
            values.append([float(row[j]) for j in cols])
        except ValueError:
            bad = next(j for j in cols if not _is_number(row[j]))
            raise DataError(
                f"csv: {path} line {i}, column {header[bad]!r}: {row[bad]!r} is not a number "
                "(feature columns must be numeric)"
            ) from None
    x = torch.tensor(values, dtype=torch.float32)
    bad = (~torch.isfinite(x)).nonzero()
    if len(bad):
        i, j = int(bad[0, 0]), cols[int(bad[0, 1])]
        raise DataError(f"csv: {path} line {i + 2}, column {header[j]!r}: {body[i][j]!r} is not a "
                        "finite number (features must be finite)")
    return x


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_regression(cfg) -> Loaded:
    header, body, t, path = _read(cfg)
    x = _features(header, body, t, path)
    bad = next((i for i, row in enumerate(body, start=2) if not _is_number(row[t])), None)
    if bad is not None:
        raise DataError(
            f"csv: {path} line {bad}: target {header[t]!r} = {body[bad - 2][t]!r} is not a number; "
            "for class labels use the dataset 'csv-classes'"
        )
    y = torch.tensor([float(row[t]) for row in body], dtype=torch.float32).unsqueeze(1)
    if not bool(torch.isfinite(y).all()):
        i = int((~torch.isfinite(y[:, 0])).nonzero()[0, 0])
        raise DataError(f"csv: {path} line {i + 2}: target {header[t]!r} = {body[i][t]!r} is not a "
                        "finite number")
    return Loaded(x, y, (x.shape[1],), 1, standardize_x=True, standardize_y=True)


def csv_classes(cfg) -> Loaded:
    header, body, t, path = _read(cfg)
    x = _features(header, body, t, path)
    labels = [row[t].strip() for row in body]
    distinct = set(labels)
    numeric = all(_is_number(v) for v in distinct)
    classes = sorted(distinct, key=float) if numeric else sorted(distinct)
    if len(classes) < 2:
        raise DataError(f"csv: target {header[t]!r} of {path} has fewer than two classes")
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[v] for v in labels], dtype=torch.long)
    return Loaded(x, y, (x.shape[1],), len(classes), tuple(classes), standardize_x=True)
