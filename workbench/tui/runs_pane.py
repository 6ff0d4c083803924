"""The Runs tab: every run folder with its state, to watch one or compare several.

The table is `runlist.list_runs` (status.json and the tail of metrics.jsonl of each folder),
refreshed when the tab is shown and every two seconds while it shows; a sweep's points are listed
together as `sweep/point`. Its key (f6) puts the focus on the table, whose keys are in the footer
then. Enter watches the highlighted run, `s` stops it (after asking), `r` resumes an interrupted or
stale one (as a run of this window), `o` loads its config into Setup, space marks runs, `g` marks
every point of the highlighted run's sweep, `c` compares the marked ones (`CompareScreen`: their
loss curves on one plot, the config keys that differ and their final metrics).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from .. import runs
from ..runlist import SWEEP_FILE, fmt_age, fmt_last, is_epoch_record, label, list_runs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REFRESH_S = 2.0
STATE_STYLES = {
    "running": "bold green",
    "finished": "bold",
    "failed": "bold red",
    "interrupted": "yellow",
    "stale": "red",
    "unknown": "dim",
    "unreadable": "red",
}
CURVE_COLORS = ("cyan+", "orange+", "green+", "magenta+", "yellow+", "blue+", "red+", "white")
CURVE_MARKERS = ("braille", "x", "o", "+", "*", "#", "@", "%")  # for NO_COLOR


class RunsTable(DataTable):
    """The table of runs: enter (DataTable's select) says what it does in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Watch")]


class RunsPane(Vertical):
    """The run folders under a root, newest first; keys to watch, stop, resume, open config,
    mark and compare (shown in the footer while the table has focus)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("o", "open_config", "Config"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("g", "mark_sweep", "Sweep"),
    ]

    class Watch(Message):
        """The user asked to watch a run folder."""

        def __init__(self, run_dir: Path) -> None:
            super().__init__()
            self.run_dir = run_dir

    class OpenConfig(Message):
        """The user asked to load a run folder's config into Setup."""

        def __init__(self, run_dir: Path) -> None:
            super().__init__()
            self.run_dir = run_dir

    class Stop(Message):
        """The user asked to stop a run folder's run (the app asks first)."""

        def __init__(self, run_dir: Path) -> None:
            super().__init__()
            self.run_dir = run_dir

    class Resume(Message):
        """The user asked to resume a run folder's run from its checkpoint."""

        def __init__(self, run_dir: Path) -> None:
            super().__init__()
            self.run_dir = run_dir

    def __init__(self, root: Path | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root = root
        self.marked: set[Path] = set()
        self.shown: list[Path] = []

    @property
    def folder(self) -> Path:
        return self.root or runs.default_root()

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-hint", classes="dim")
        table = RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(" ", "run", "state", "epoch", "age", "last metrics")
        yield table

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self.refresh_runs)
        self.refresh_runs(force=True)
        if getattr(self.app, "focus_runs", False):  # mounted by f6 (the tab's first show)
            self.query_one("#runs-table").focus()

    def on_show(self) -> None:
        self.refresh_runs(force=True)  # the tab was chosen: as the folders are now, not 2 s ago

    def refresh_runs(self, force: bool = False) -> None:
        """Read the run folders again (only while the tab shows, unless forced)."""
        if not (force or self.is_on_screen):
            return
        table = self.query_one(DataTable)
        current = self.highlighted
        infos = list(reversed(list_runs(self.folder)))
        now = time.time()
        table.clear()
        self.shown = [i.path for i in infos]
        self.marked &= set(self.shown)
        for i in infos:
            state = i.state + (f" x{i.world_size}" if i.world_size > 1 else "")
            epoch = f"{i.epoch}/{i.max_epochs}" if i.max_epochs else str(i.epoch)
            table.add_row(
                "●" if i.path in self.marked else " ",
                label(i),
                Text(state, style=STATE_STYLES.get(i.state, "")),
                epoch,
                fmt_age(now - i.updated),
                fmt_last(i),
                key=str(i.path),
            )
        if current is not None:
            try:
                table.move_cursor(row=table.get_row_index(str(current)), animate=False)
            except RowDoesNotExist:
                pass
        runs = f"{len(infos)} run{'' if len(infos) == 1 else 's'}"
        hint = (
            f"{runs} in {self.folder}: enter watch · s stop · r resume · o config · "
            f"space mark · g mark sweep · c compare marked ({len(self.marked)})"
        )
        self.query_one("#runs-hint", Static).update(
            hint if infos else f"no runs under {self.folder} yet (ctrl+r or ctrl+y starts one)"
        )

    @property
    def highlighted(self) -> Path | None:
        """The run folder under the cursor."""
        table = self.query_one(DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.post_message(self.Watch(Path(event.row_key.value)))

    def action_mark(self) -> None:
        path = self.highlighted
        if path is None:
            return
        self.marked ^= {path}
        table = self.query_one(DataTable)
        table.move_cursor(row=min(table.cursor_row + 1, table.row_count - 1), animate=False)
        self.refresh_runs(force=True)

    def action_mark_sweep(self) -> None:
        """Mark every point of the highlighted run's sweep (unmark them if all are marked)."""
        path = self.highlighted
        if path is None or not (path.parent / SWEEP_FILE).is_file():
            self.notify("not a point of a sweep (workbench sweep)", severity="warning")
            return
        group = {p for p in self.shown if p.parent == path.parent}
        self.marked = self.marked - group if group <= self.marked else self.marked | group
        self.refresh_runs(force=True)

    def action_compare(self) -> None:
        chosen = [p for p in self.shown if p in self.marked]
        if len(chosen) < 2:
            self.notify("mark two or more runs with space first", severity="warning")
            return
        self.app.push_screen(CompareScreen(chosen))

    def action_open_config(self) -> None:
        if self.highlighted is not None:
            self.post_message(self.OpenConfig(self.highlighted))

    def action_stop(self) -> None:
        if self.highlighted is not None:
            self.post_message(self.Stop(self.highlighted))

    def action_resume(self) -> None:
        if self.highlighted is not None:
            self.post_message(self.Resume(self.highlighted))


# -- comparison -------------------------------------------------------------------------------------
def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}."""
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def read_config(run_dir: Path) -> dict[str, object]:
    """A run folder's config.toml, flattened ({} when missing or unreadable)."""
    try:
        return flatten(tomllib.loads((run_dir / runs.CONFIG).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def config_differences(configs: list[dict[str, object]]) -> list[tuple[str, list[str]]]:
    """The keys whose values are not the same in every config, with each one's value ("-": none)."""
    keys = sorted({k for c in configs for k in c})
    out = []
    for k in keys:
        values = [repr(c[k]) if isinstance(c.get(k), str) else str(c.get(k, "-")) for c in configs]
        if len(set(values)) > 1:
            out.append((k, values))
    return out


def epoch_records(run_dir: Path) -> list[dict]:
    return [r for r in runs.read_metrics(run_dir) if is_epoch_record(r)]


class CompareScreen(ModalScreen[None]):
    """Loss by epoch of several runs on one plot, the config keys that differ, final metrics."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, run_dirs: list[Path]) -> None:
        super().__init__(classes="dialog-screen")
        self.run_dirs = run_dirs
        self.records = [epoch_records(p) for p in run_dirs]
        have_val = all(any(r.get("val_loss") is not None for r in rs) for rs in self.records)
        self.curve = "val_loss" if have_val else "train_loss"
        self.differences = config_differences([read_config(p) for p in run_dirs])
        self.series: list[tuple[str, list, list]] = []  # (label, epochs, values) as plotted

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # plotext's import is not for the first frame

        with VerticalScroll(classes="dialog", id="compare") as box:
            box.border_title = f"compare {len(self.run_dirs)} runs (escape closes)"
            yield PlotextPlot(id="compare-plot")
            yield Static(self.table(), id="compare-table")

    def on_mount(self) -> None:
        from textual_plotext import PlotextPlot

        plot = self.query_one(PlotextPlot)
        plain = self.app.no_color
        if plain:
            plot.theme = "clear"
        plt = plot.plt
        plt.title(f"{self.curve.replace('_', ' ')} by epoch")
        plt.xlabel("epoch")
        for i, (run_dir, records) in enumerate(zip(self.run_dirs, self.records)):
            points = [
                (r["epoch"], r[self.curve])
                for r in records
                if isinstance(r.get(self.curve), (int, float))
            ]
            if not points:
                continue
            xs, ys = zip(*points)
            marker = (
                CURVE_MARKERS[i % len(CURVE_MARKERS)]
                if plain
                else ("braille" if len(xs) > 1 else "o")
            )
            label = f"{i + 1} {run_dir.name[-28:]}"
            self.series.append((label, list(xs), list(ys)))
            plt.plot(
                list(xs),
                list(ys),
                label=label,
                marker=marker,
                color=None if plain else CURVE_COLORS[i % len(CURVE_COLORS)],
            )

    def table(self) -> Table:
        """Config keys that differ, then each run's final metrics; one column per run."""
        table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
        table.add_column("", style="bold", no_wrap=True)
        for i, p in enumerate(self.run_dirs):
            table.add_column(f"{i + 1} {p.name}", overflow="fold")
        for key, values in self.differences:
            table.add_row(key, *values)
        if not self.differences:
            table.add_row(Text("config", style="dim"), *["same"] * len(self.run_dirs))
        finals = [rs[-1] if rs else {} for rs in self.records]
        keys = ["epoch", "train_loss"] + sorted(
            {k for f in finals for k in f if k.startswith("val_")}
        )
        table.add_section()
        for k in keys:
            row = [
                f"{f[k]:.4f}" if isinstance(f.get(k), float) else str(f.get(k, "-")) for f in finals
            ]
            table.add_row(Text(f"final {k}" if k != "epoch" else "epochs", style="bold"), *row)
        return table
