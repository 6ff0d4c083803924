"""A loss history that summarises itself, so drawing it costs the same at 1k or 1M steps.

`StepSeries` keeps at most `capacity` buckets of `span` consecutive points each (min, max, last
value and the smoothed value at the bucket's end). When the buckets run out, neighbours merge in
pairs and `span` doubles, so memory and the cost of `downsample` are bounded by `capacity`, while
appending stays amortised O(1) per point and vectorised per chunk. Below `capacity` points each
bucket holds one point and the plot is exact. numpy is imported on first use (not at app start).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The closed-form EMA scales a block's points by a^-k; keep that below 1e150 (floats reach 1e308).
_EMA_SCALE_LOG = 150 * math.log(10)


def _np() -> Any:
    import numpy

    return numpy


@dataclass
class Downsampled:
    """What a plot draws: the raw curve as a min/max envelope, and the smoothed curve."""

    raw_x: list[float]
    raw_y: list[float]
    smooth_x: list[float]
    smooth_y: list[float]


class StepSeries:
    """Append-only (step, loss) history with an EMA, summarised in at most `capacity` buckets."""

    FIELDS = ("x_first", "x_last", "lo", "lo_x", "hi", "hi_x", "last", "ema")

    def __init__(self, capacity: int = 2048, smoothing: float = 0.98) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError("smoothing must be in [0, 1)")
        self.capacity, self.smoothing = capacity, smoothing
        self.clear()

    def clear(self) -> None:
        """Forget every point."""
        self.count = 0  # finite points seen
        self.skipped = 0  # non-finite points dropped
        self.span = 1  # points per full bucket
        self.n = 0  # buckets in use; the last one may be partial
        self.fill = 0  # points in the last bucket
        self._ema = 0.0  # biased EMA state (debiased on output, as TensorBoard does)
        self._b: dict[str, Any] | None = None  # bucket arrays, allocated on first add

    def __len__(self) -> int:
        return self.count

    # -- appending -------------------------------------------------------------------------
    def add(self, steps: Sequence[float], losses: Sequence[float]) -> None:
        """Append points; pairs with a non-finite step or loss are skipped (and counted)."""
        if len(steps) != len(losses):
            raise ValueError(f"{len(steps)} steps but {len(losses)} losses")
        if not len(steps):
            return
        np = _np()
        x = np.asarray(steps, dtype=np.float64)
        y = np.asarray(losses, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.all():
            self.skipped += int((~ok).sum())
            x, y = x[ok], y[ok]
        if not x.size:
            return
        e = self._smooth(y)
        if self._b is None:
            self._b = {f: np.empty(self.capacity) for f in self.FIELDS}
        i = 0
        while i < x.size:
            i += self._take(x[i:], y[i:], e[i:])
        self.count += int(x.size)

    def _smooth(self, y: Any) -> Any:
        """Debiased EMA of `y` continuing from the current state, in closed form per block."""
        np = _np()
        a = self.smoothing
        if a == 0:
            return y.copy()
        out = np.empty_like(y)
        block = max(1, int(_EMA_SCALE_LOG / -math.log(a)))
        for s in range(0, y.size, block):
            blk = y[s : s + block]
            k = np.arange(blk.size, dtype=np.float64)
            # ema_t = a^(t+1) ema_0 + (1-a) sum_{i<=t} a^(t-i) y_i
            ema = a ** (k + 1) * self._ema + (1 - a) * a**k * np.cumsum(blk * a ** (-k))
            self._ema = float(ema[-1])
            seen = self.count + s + k + 1  # points seen including this one
            out[s : s + blk.size] = ema / (1 - a**seen)
        return out

    def _take(self, x: Any, y: Any, e: Any) -> int:
        """Put a prefix of the points into buckets; return how many were taken."""
        b = self._b
        assert b is not None
        if self.n and self.fill < self.span:  # top up the partial last bucket
            t = min(self.span - self.fill, x.size)
            self._merge_into(self.n - 1, x[:t], y[:t], e[:t])
            self.fill += t
            return t
        if self.n == self.capacity:
            self._compact()
            return 0
        full = min(x.size // self.span, self.capacity - self.n)
        if full:  # whole buckets at once, vectorised
            t, j, sp = full * self.span, self.n, self.span
            xs, ys = x[:t].reshape(full, sp), y[:t].reshape(full, sp)
            lo_i, hi_i = ys.argmin(1), ys.argmax(1)
            rows = _np().arange(full)
            b["x_first"][j : j + full] = xs[:, 0]
            b["x_last"][j : j + full] = xs[:, -1]
            b["lo"][j : j + full] = ys[rows, lo_i]
            b["lo_x"][j : j + full] = xs[rows, lo_i]
            b["hi"][j : j + full] = ys[rows, hi_i]
            b["hi_x"][j : j + full] = xs[rows, hi_i]
            b["last"][j : j + full] = ys[:, -1]
            b["ema"][j : j + full] = e[:t].reshape(full, sp)[:, -1]
            self.n += full
            self.fill = sp
            return t
        # fewer points than a bucket: they start a new, partial one
        j = self.n
        lo_i, hi_i = int(y.argmin()), int(y.argmax())
        b["x_first"][j] = x[0]
        b["lo"][j], b["lo_x"][j] = y[lo_i], x[lo_i]
        b["hi"][j], b["hi_x"][j] = y[hi_i], x[hi_i]
        b["x_last"][j], b["last"][j], b["ema"][j] = x[-1], y[-1], e[-1]
        self.n += 1
        self.fill = x.size
        return x.size

    def _merge_into(self, j: int, x: Any, y: Any, e: Any) -> None:
        b = self._b
        assert b is not None
        lo_i, hi_i = int(y.argmin()), int(y.argmax())
        if y[lo_i] < b["lo"][j]:
            b["lo"][j], b["lo_x"][j] = y[lo_i], x[lo_i]
        if y[hi_i] > b["hi"][j]:
            b["hi"][j], b["hi_x"][j] = y[hi_i], x[hi_i]
        b["x_last"][j], b["last"][j], b["ema"][j] = x[-1], y[-1], e[-1]

    def _compact(self) -> None:
        """Merge neighbouring buckets in pairs (all are full here) and double the span."""
        b = self._b
        assert b is not None
        np = _np()
        h = self.capacity // 2
        left = {f: a[0 : self.capacity : 2].copy() for f, a in b.items()}
        right = {f: a[1 : self.capacity : 2].copy() for f, a in b.items()}
        take_lo = left["lo"] <= right["lo"]
        take_hi = left["hi"] >= right["hi"]
        b["x_first"][:h] = left["x_first"]
        b["lo"][:h] = np.where(take_lo, left["lo"], right["lo"])
        b["lo_x"][:h] = np.where(take_lo, left["lo_x"], right["lo_x"])
        b["hi"][:h] = np.where(take_hi, left["hi"], right["hi"])
        b["hi_x"][:h] = np.where(take_hi, left["hi_x"], right["hi_x"])
        for f in ("x_last", "last", "ema"):
            b[f][:h] = right[f]
        self.n, self.span = h, self.span * 2
        self.fill = self.span

    # -- reading ----------------------------------------------------------------------------
    @property
    def first_x(self) -> float:
        """Step of the oldest point kept (NaN when empty)."""
        if not self.n or self._b is None:
            return math.nan
        return float(self._b["x_first"][0])

    @property
    def last(self) -> tuple[float, float, float] | None:
        """(step, loss, smoothed loss) of the newest point, or None when empty."""
        if not self.n or self._b is None:
            return None
        j = self.n - 1
        return float(self._b["x_last"][j]), float(self._b["last"][j]), float(self._b["ema"][j])

    def downsample(self, columns: int) -> Downsampled:
        """At most `columns` groups: each adds its min and max (in step order) to the raw curve
        and its last smoothed value to the smooth curve; the newest raw point always ends it."""
        if not self.n or self._b is None:
            return Downsampled([], [], [], [])
        np = _np()
        n, b = self.n, self._b
        groups = max(1, min(int(columns), n))
        starts = (np.arange(groups) * n) // groups  # even split of the buckets, first at 0
        ends = np.append(starts[1:], n) - 1
        lo_pos = np.minimum.reduceat(b["lo"][:n], starts)
        hi_pos = np.maximum.reduceat(b["hi"][:n], starts)
        # where in each group the min / max sit: the first bucket holding them
        lo_x, hi_x = _x_of(b["lo"][:n], b["lo_x"][:n], starts, lo_pos), _x_of(
            b["hi"][:n], b["hi_x"][:n], starts, hi_pos)
        first_is_lo = lo_x <= hi_x
        ax = np.where(first_is_lo, lo_x, hi_x)
        ay = np.where(first_is_lo, lo_pos, hi_pos)
        bx = np.where(first_is_lo, hi_x, lo_x)
        by = np.where(first_is_lo, hi_pos, lo_pos)
        same = ax == bx  # one point in the group: draw it once
        raw_x = np.column_stack([ax, bx]).ravel()
        raw_y = np.column_stack([ay, by]).ravel()
        keep = np.ones(raw_x.size, dtype=bool)
        keep[1::2] = ~same
        raw_x, raw_y = raw_x[keep].tolist(), raw_y[keep].tolist()
        last_x, last_y = float(b["x_last"][n - 1]), float(b["last"][n - 1])
        if not raw_x or raw_x[-1] != last_x or raw_y[-1] != last_y:
            raw_x.append(last_x)
            raw_y.append(last_y)
        return Downsampled(raw_x, raw_y, b["x_last"][ends].tolist(), b["ema"][ends].tolist())


def _x_of(values: Any, xs: Any, starts: Any, extreme: Any) -> Any:
    """Per group, the x of the first bucket whose value equals the group's extreme."""
    np = _np()
    n = values.size
    group = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    hit = values == extreme[group]
    # the first hit per group: hits ordered by position, then the first occurrence of each group
    idx = np.flatnonzero(hit)
    first = np.unique(group[idx], return_index=True)[1]
    return xs[idx[first]]


def finite(value: float | None) -> bool:
    """True for a real number that is neither NaN nor infinite."""
    return value is not None and math.isfinite(value)
