"""A sweep's grid in Hydra's syntax: `key=a,b,c`, `key=range(start, stop, step)`, the product.

Commas split a value into choices only at the top level: inside brackets, braces, parentheses or
quotes they belong to the value, so `optimizer.betas=[0.9,0.99],[0.8,0.9]` is two choices of a
list and `data.path='a,b.csv'` is one string. Each choice stays as the user wrote it (it becomes
the point's override `key=choice`, parsed as any override is). Hydra's other sweep functions
(`interval`, `glob`, `tag`, ...) describe searches, not grids, and are refused.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

MAX_POINTS = 1000
_FUNCTION = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)
_REFUSED = ("interval", "glob", "tag", "sort", "shuffle", "extend_list")
_CLOSE = {"]": "[", "}": "{", ")": "("}


class GridError(ValueError):
    """A grid argument that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Axis:
    """One key and the values it takes, as text (each a valid override value)."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    """One point of the grid: its folder name and the overrides that make it."""

    folder: str
    overrides: tuple[str, ...]  # only the varying keys; the sweep's fixed overrides come first
    values: tuple[str, ...]  # one per varying axis, in the axes' order


def split_top(text: str) -> list[str]:
    """Split on commas outside brackets, braces, parentheses and quotes; GridError if unbalanced."""
    parts, depth, quote, start = [], [], "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth.append(ch)
        elif ch in "]})":
            if not depth or depth[-1] != _CLOSE[ch]:
                raise GridError(f"unbalanced {ch!r} at character {i + 1}")
            depth.pop()
        elif ch == "," and not depth:
            parts.append(text[start:i])
            start = i + 1
    if quote:
        raise GridError(f"unclosed quote {quote}")
    if depth:
        raise GridError(f"unclosed {depth[-1]!r}")
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise GridError(f"range() takes numbers, not {text!r}") from None
    if not math.isfinite(value):
        raise GridError(f"range() takes finite numbers, not {text!r}")
    return value


def expand_range(args: str) -> list[str]:
    """Hydra's range(stop), range(start, stop) and range(start, stop, step): stop excluded;
    floats step exactly as start + i * step, shown with 12 significant digits."""
    parts = [p.strip() for p in args.split(",")]
    parts = [p.split("=", 1)[1].strip() if p.startswith(("start=", "stop=", "step=")) else p
             for p in parts]
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise GridError("range() takes 1 to 3 numbers: range(start, stop[, step])")
    nums = [_number(p) for p in parts]
    if len(nums) == 1:
        start, stop, step = 0, nums[0], 1
    else:
        start, stop, step = nums[0], nums[1], nums[2] if len(nums) == 3 else 1
    if step == 0:
        raise GridError("range() step must not be 0")
    span = (stop - start) / step  # (0.4 - 0.1) / 0.1 is 3.0000000000000004: stop stays excluded
    count = math.ceil(span - 1e-9 * max(1.0, abs(span)))
    if count <= 0:
        raise GridError(f"range({args}) is empty")
    if count > MAX_POINTS:
        raise GridError(f"range({args}) has {count} values (at most {MAX_POINTS})")
    if all(isinstance(n, int) for n in (start, stop, step)):
        return [str(start + i * step) for i in range(count)]
    return [f"{start + i * step:.12g}" for i in range(count)]


def parse_choices(value: str) -> list[str]:
    """The values of one `key=...` argument: commas, range(), choice(); GridError on bad syntax."""
    out: list[str] = []
    for part in split_top(value):
        if not part:
            raise GridError("an empty value (two commas in a row, or a comma at an end)")
        call = _FUNCTION.match(part)
        name = call.group(1) if call else ""
        if name == "range":
            out.extend(expand_range(call.group(2)))
        elif name == "choice":
            out.extend(parse_choices(call.group(2)))
        elif name in _REFUSED:
            raise GridError(f"{name}() describes a search, not a grid; list the values with "
                            "commas or use range(start, stop, step)")
        else:
            out.append(part)
    return out


def parse_grid(items: list[str]) -> tuple[list[str], list[Axis], list[str]]:
    """(fixed overrides, varying axes, problems) from `key=a,b` arguments in the given order."""
    fixed: list[str] = []
    axes: list[Axis] = []
    problems: list[str] = []
    seen: set[str] = set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not all(k.strip() for k in key.split(".")):
            problems.append(f"{item!r}: must look like key=a,b,c (e.g. optimizer.lr=1e-3,1e-2)")
            continue
        if key in seen:
            problems.append(f"{item!r}: {key} is given twice")
            continue
        seen.add(key)
        try:
            values = parse_choices(value.strip())
        except GridError as e:
            problems.append(f"{item!r}: {e}")
            continue
        if len(set(values)) != len(values):
            problems.append(f"{item!r}: a value is listed twice")
        elif len(values) == 1:
            fixed.append(f"{key}={values[0]}")
        else:
            axes.append(Axis(key, tuple(values)))
    size = math.prod(len(a.values) for a in axes)
    if size > MAX_POINTS:
        problems.append(f"the grid has {size} points (at most {MAX_POINTS})")
    return fixed, axes, problems


def _short_keys(axes: list[Axis]) -> list[str]:
    """Each key's last part (`lr`), or the whole key where two axes share a last part."""
    last = [a.key.rsplit(".", 1)[-1] for a in axes]
    return [s if last.count(s) == 1 else a.key for s, a in zip(last, axes)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+=-]+", "_", text).strip("_.")[:40] or "_"


def points(axes: list[Axis]) -> list[Point]:
    """The Cartesian product, the first axis varying slowest (as Hydra's basic sweeper), each point
    in a folder `NN-lr=0.01-batch_size=16` (numbered, so names stay unique and in grid order)."""
    combos = list(itertools.product(*(a.values for a in axes)))
    width = len(str(max(len(combos) - 1, 0)))
    short = _short_keys(axes)
    out = []
    for i, combo in enumerate(combos):
        name = "-".join(f"{s}={_slug(v)}" for s, v in zip(short, combo))
        out.append(Point(f"{i:0{width}d}" + (f"-{name}" if name else ""),
                         tuple(f"{a.key}={v}" for a, v in zip(axes, combo)), tuple(combo)))
    return out
