"""The batch preview: what the tutorial's `images, labels = next(iter(loader))` shows, on screen.

A header with the shapes and dtypes of inputs and targets, then the samples in the form that
suits them: images in a grid with the label (and prediction, wrong ones marked) under each,
feature rows as a table, ranking pairs side by side, rating pairs as (user, item) -> rating.
Tensors are CPU copies the engine no longer uses; they are read through numpy, never changed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import Reactive
from textual.widgets import Static

from .pixels import cell_size, is_image_batch, render_image

if TYPE_CHECKING:
    from ...events import PreviewBatch

MAX_IMAGES = 32
MAX_ROWS = 32
WRONG = "✗"


class Drawing(Static):
    """Text with no links in it: Textual need not scan every cell of it for them (py-spy put
    that scan at a tenth of the UI's time in a run, over the plots and this)."""

    auto_links = Reactive(False)


class PreviewPane(VerticalScroll):
    """A scrollable view of one batch; `show` replaces it, a resize re-flows the image grid."""

    DEFAULT_CSS = """
    PreviewPane {
        min-width: 20;
        min-height: 3;
    }
    PreviewPane > .preview-body {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(self, *, min_interval: float | None = None, name: str | None = None,
                 id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.min_interval = self.MIN_INTERVAL if min_interval is None else min_interval
        self.preview: PreviewBatch | None = None
        self._width = 0
        self._shape: tuple = ()  # what decides the drawing's size: the last one laid out
        self._stale = False  # a batch arrived while the pane was hidden or drawn too recently
        self._last_draw = -1e9
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield Drawing(Text("no batch yet: it appears once the dataset has loaded", style="dim"),
                       classes="preview-body")

    #: at most one redraw per this many seconds: drawing a grid of images costs ~20 ms of the UI
    #: thread, CPU time taken from the run's cores (profiled with py-spy during a run)
    MIN_INTERVAL = 1.0

    def show(self, preview: PreviewBatch) -> None:
        """Show this batch (replacing the previous one); drawn when the pane is on screen."""
        self.preview = preview
        self._stale = True
        if not self.is_on_screen and self._last_draw > -1e9:
            return  # hidden (another tab): drawn by on_show
        wait = self._last_draw + self.min_interval - time.monotonic()
        if wait <= 0:
            self._draw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._draw_if_stale)

    def _draw_if_stale(self) -> None:
        self._timer = None
        if self._stale and self.preview is not None:
            self._draw()

    def on_show(self) -> None:
        self._draw_if_stale()

    def on_resize(self) -> None:
        if self.preview is not None and self._content_width() != self._width:
            self._draw()

    def _content_width(self) -> int:
        return max(10, (self.scrollable_content_region.width or self.size.width or 80))

    def _draw(self) -> None:
        assert self.preview is not None
        self._stale = False
        self._last_draw = time.monotonic()
        self._width = self._content_width()
        color = not getattr(self.app, "no_color", False)
        p = self.preview
        # a batch like the last one (same shapes, same width) draws to the same size: repaint
        # only; a layout of the whole screen took ~100 ms of the UI at 160x50 (py-spy, live run)
        shape = (self._width, _shape(p.inputs), _shape(p.targets), p.predictions is None, p.task,
                 len(p.class_names))
        self.query_one(".preview-body", Drawing).update(
            describe(p, self._width, color), layout=shape != self._shape
        )
        self._shape = shape


# -- what a batch looks like ----------------------------------------------------------------------
def describe(p: PreviewBatch, width: int = 80, color: bool = True) -> RenderableType:
    """The whole preview of a batch as one renderable, `width` cells wide."""
    x, y = p.inputs, p.targets
    parts: list[RenderableType] = [header(p)]
    if is_image_batch(x):
        parts.append(image_grid(p, width, color))
    elif _ndim(x) == 3 and x.shape[1] == 2:
        parts.append(pair_table(p, width))
    elif _ndim(x) == 2 and x.shape[1] == 2 and _is_integer(x):
        parts.append(ratings_table(p))
    elif _ndim(x) == 2:
        parts.append(row_table(p, width))
    else:
        parts.append(Text(f"inputs of shape {_shape(x)} have no view here; labels: "
                          + ", ".join(_label(p, i) for i in range(min(_len(y), MAX_ROWS)))))
    return Group(*parts)


def header(p: PreviewBatch) -> Text:
    """Shapes and dtypes, the task, and how many predictions were right."""
    t = Text()
    # the batch's shape, not the preview's: a batch of 32 previewed by its first 16 rows says
    # (32, ...) and "16 of 32 shown"
    rows, batch = _len(p.inputs), int(getattr(p, "batch_size", 0) or 0)
    batch = batch if batch > rows else 0
    t.append("inputs ", style="bold").append(f"{_shape(p.inputs, batch)} {_dtype(p.inputs)}")
    t.append("   targets ", style="bold")
    t.append(f"{_shape(p.targets, batch)} {_dtype(p.targets)}")
    if p.task:
        t.append(f"   {p.task}", style="dim")
    total, shown = batch or rows, min(rows, _shown(p))
    if shown < total:
        t.append(f"   {shown} of {total} shown", style="dim")
    if p.predictions is not None:
        right = [_correct(p, i) for i in range(_len(p.targets))]
        judged = [r for r in right if r is not None]
        when = f" after epoch {p.epoch}" if p.epoch else ""
        t.append(f"\npredictions{when}", style="bold")
        if judged:
            t.append(f": {sum(judged)}/{len(judged)} right")
    return t


def image_grid(p: PreviewBatch, width: int, color: bool) -> Table:
    """The first images in a grid, each with its label (and prediction) under it."""
    n = min(_len(p.inputs), MAX_IMAGES)
    shape = p.inputs.shape
    cell_w = max(cell_size(int(shape[2]), int(shape[3]))[0], 6)
    cols = max(1, min(n, (width + 1) // (cell_w + 1)))
    grid = Table.grid(padding=(0, 1, 1, 0))
    for _ in range(cols):
        grid.add_column(width=cell_w, no_wrap=True)
    cells: list[RenderableType] = []
    for i in range(n):
        caption = _caption(p, i)
        caption.truncate(cell_w, overflow="ellipsis")
        cells.append(Group(render_image(p.inputs[i], color), caption))
    for r in range(0, n, cols):
        grid.add_row(*cells[r : r + cols])
    return grid


def row_table(p: PreviewBatch, width: int) -> Table:
    """Feature rows (N, F): the first features that fit, then label and prediction."""
    x = _np(p.inputs)
    n, f = x.shape
    fit = max(1, min(f, (width - 24) // 9))
    table = _table(["#", *(f"x{j}" for j in range(fit)), *(["…"] if fit < f else [])], p)
    for i in range(min(n, MAX_ROWS)):
        cells = [f"{v:.3g}" for v in x[i, :fit]] + (["…"] if fit < f else [])
        table.add_row(str(i), *cells, *_label_cells(p, i))
    return table


def pair_table(p: PreviewBatch, width: int) -> Table:
    """Ranking pairs (N, 2, F): item a and item b side by side, the target says which ranks higher."""
    x = _np(p.inputs)
    k = max(1, (width - 30) // 2 // 7)
    table = _table(["#", "a", "b"], p)
    for i in range(min(x.shape[0], MAX_ROWS)):
        table.add_row(str(i), _vector(x[i, 0], k), _vector(x[i, 1], k), *_label_cells(p, i))
    return table


def ratings_table(p: PreviewBatch) -> Table:
    """Rating pairs (N, 2) of ids: (user, item) -> rating."""
    x = _np(p.inputs)
    table = _table(["#", "(user, item)"], p)
    for i in range(min(x.shape[0], MAX_ROWS)):
        table.add_row(str(i), f"({int(x[i, 0])}, {int(x[i, 1])}) ->", *_label_cells(p, i))
    return table


def _table(columns: list[str], p: PreviewBatch) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold", show_edge=False)
    for c in columns:
        table.add_column(c, justify="right" if c != "(user, item)" else "left", no_wrap=True)
    table.add_column("target", no_wrap=True)
    if p.predictions is not None:
        table.add_column("predicted", no_wrap=True)
    return table


def _label_cells(p: PreviewBatch, i: int) -> list[Text]:
    cells = [Text(_label(p, i))]
    if p.predictions is not None:
        cells.append(_prediction(p, i))
    return cells


def _caption(p: PreviewBatch, i: int) -> Text:
    """`label` or `label → prediction` (marked when wrong), for under an image."""
    t = Text(_label(p, i), style="bold")
    if p.predictions is not None:
        t.append(" → ")
        t.append_text(_prediction(p, i))
    return t


def _prediction(p: PreviewBatch, i: int) -> Text:
    shown = _format(p, _np(p.predictions)[i], is_prediction=True)
    if _correct(p, i) is False:
        return Text(f"{shown} {WRONG}", style="bold red")
    return Text(shown, style="green" if _correct(p, i) else "")


# -- labels ---------------------------------------------------------------------------------------
def _label(p: PreviewBatch, i: int) -> str:
    return _format(p, _np(p.targets)[i], is_prediction=False)


def _format(p: PreviewBatch, value: Any, is_prediction: bool) -> str:
    """A target or prediction as a person reads it: class name, label set, or number(s)."""
    import numpy as np

    v = np.asarray(value)
    if v.ndim == 0:
        if np.issubdtype(v.dtype, np.integer) or p.task in ("classification", "binary", "ranking"):
            return _class_name(p, int(v))
        return f"{float(v):.3g}"
    flat = v.reshape(-1)
    if p.task == "multilabel":
        on = [_class_name(p, j) for j in np.flatnonzero(flat > 0.5)]
        return "{" + ",".join(on) + "}"
    if p.task == "distribution" and not is_prediction:
        return _class_name(p, int(flat.argmax()))
    if flat.size == 1:  # e.g. one regression target per sample, shaped (N, 1)
        return f"{float(flat[0]):.3g}"
    return _vector(flat, 4)


def _class_name(p: PreviewBatch, k: int) -> str:
    if p.task in ("binary", "ranking"):  # targets are -1 / +1
        return f"{k:+d}"
    return p.class_names[k] if 0 <= k < len(p.class_names) else str(k)


def _correct(p: PreviewBatch, i: int) -> bool | None:
    """Whether prediction i matches its label; None where right and wrong do not apply."""
    import numpy as np

    if p.predictions is None or p.task in ("regression", "counts", ""):
        return None
    pred, target = np.asarray(_np(p.predictions)[i]), np.asarray(_np(p.targets)[i])
    if p.task == "distribution" and target.ndim:
        target = np.asarray(target.argmax())
    if p.task == "multilabel":
        return bool(np.array_equal(pred.reshape(-1) > 0.5, target.reshape(-1) > 0.5))
    if pred.shape != target.shape:
        return None
    return bool(np.array_equal(pred, target))


# -- small helpers --------------------------------------------------------------------------------
def _np(t: Any) -> Any:
    import numpy as np

    return np.asarray(t)


def _vector(v: Any, k: int) -> str:
    vals = [f"{float(a):.3g}" for a in v.reshape(-1)[:k]]
    return "[" + " ".join(vals) + (" …" if v.size > k else "") + "]"


def _shape(t: Any, rows: int = 0) -> str:
    """`(16, 2)`; with `rows`, the first dimension as that many (the batch the rows come from)."""
    dims = [int(s) for s in getattr(t, "shape", ())]
    if rows and dims:
        dims[0] = rows
    return str(tuple(dims))


def _shown(p: PreviewBatch) -> int:
    """How many of the preview's samples the pane draws."""
    return MAX_IMAGES if is_image_batch(p.inputs) else MAX_ROWS


def _dtype(t: Any) -> str:
    return str(getattr(t, "dtype", type(t).__name__)).removeprefix("torch.")


def _ndim(t: Any) -> int:
    return len(getattr(t, "shape", ()))


def _len(t: Any) -> int:
    shape = getattr(t, "shape", ())
    return int(shape[0]) if len(shape) else 0


def _is_integer(t: Any) -> bool:
    import numpy as np

    return bool(np.issubdtype(_np(t).dtype, np.integer))
