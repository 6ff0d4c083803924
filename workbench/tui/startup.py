"""What happens after the first frame: a mixin of `WorkbenchApp`.

The first frame shows the pickers, the tabs, the status line and the footer. Just after it the form
fills (`Form.Filled`, once the draft is settled); then the hidden tabs' widgets are mounted, and
torch, the devices, the first run's process and a preview batch load off the UI thread.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from textual import events, work
from textual.containers import Container

from .runner import detect_devices
from .widgets.form import Form

if TYPE_CHECKING:
    from rich.text import Text
    from textual.app import App
    from textual.widgets import RichLog

    from ..config import Experiment
    from ..events import PreviewBatch
    from .draft import Draft
    from .runner import PreviewSource, Runner

    _Base = App
else:
    _Base = object


class StartUp(_Base):
    """Mixed into `WorkbenchApp`, which gives `draft`, `runner`, `previews`, `runs_root`,
    `watch_dir`, `log_line`, `refresh_pickers`, `revalidate`, `tell_problems` and `attach`."""

    draft: Draft
    runner: Runner
    previews: PreviewSource
    _log_backlog: list[Text] | None
    _log_view: RichLog | None
    _panes_mounted: bool

    # -- torch, devices and previews, off the UI thread ------------------------------------------
    @work(thread=True, name="loading torch", group="warmup", exit_on_error=False)
    def warm_up(self) -> None:
        try:  # the first run's process warms up now (on the other core), not on ctrl+r
            self.runner.prepare()
        except OSError:
            pass  # ctrl+r tries again and says why it cannot
        import torch

        devices = detect_devices()
        self.call_from_thread(self._torch_loaded, torch.__version__, devices)
        exp = self.draft.experiment
        if exp is not None:
            self._preview_worker(exp)

    def _torch_loaded(self, version: str, devices: list[tuple[str, str]]) -> None:
        self.torch_ready = True
        self.query_one(Form).set_devices(devices)
        self.log_line(
            f"torch {version} ready; devices: {', '.join(label for label, _ in devices[1:])}", "dim"
        )

    def _preview_worker(self, exp: Experiment) -> None:
        from ..data import DataError

        try:
            batch = self.previews.next_batch(exp)
        except DataError as e:
            self.call_from_thread(self.log_line, f"preview: {e}", "red")
            return
        self.call_from_thread(self.show_preview, batch)

    def show_preview(self, batch: PreviewBatch) -> None:
        from .run_panes import DataPane, TrainPane

        self.query_one(TrainPane).show_event(batch)
        self.query_one(DataPane).show_event(batch)

    async def on_form_filled(self, event: Form.Filled) -> None:
        gc.freeze()  # what start-up made lives as long as the app: no GC pass need look at it
        gc.enable()  # `workbench` turned it off until the first frame (cli.open_app)
        self.refresh_pickers()  # the settled draft names every section
        self.revalidate()
        if self.draft.load_problems:  # some may be gone: a section that was not a table, say
            self.tell_problems(self.draft.load_problems,
                               "the preset has problems: fix them in the form",
                               "the preset has problems", timeout=10)
        await self.mount_panes()
        self.ready = True
        # import torch only once the first frame and the form are on screen: an import holds the
        # GIL most of the time, and started earlier it delays them by the whole import (~1.5 s)
        self.warm_up()
        if self.watch_dir is not None:
            self.attach(self.watch_dir)

    async def mount_panes(self) -> None:
        """The hidden tabs' widgets, after the first frame: the plots and the preview (Train),
        the preview (Data), the log and the run list's table. Their imports (plotext, the run
        list, the preview, RichLog) and their mounting took a fifth of the time to it."""
        if self._panes_mounted:
            return
        self._panes_mounted = True
        from textual.widgets import RichLog

        from .run_panes import DataPane, TrainPane
        from .runs_pane import RunsPane

        await self.query_one("#train", Container).mount(TrainPane(id="train-row"))
        await self.query_one("#data", Container).mount(DataPane(id="data-pane"))
        log = RichLog(id="log-view", wrap=True, markup=False, highlight=False, max_lines=5000)
        await self.query_one("#log", Container).mount(log)
        for text in self._log_backlog or []:
            log.write(text)
        self._log_view, self._log_backlog = log, None
        await self.query_one("#runs", Container).mount(RunsPane(self.runs_root, id="runs-pane"))

    async def on_event(self, event: events.Event) -> None:
        # a key typed ahead (or a click) may start a run, a watch or show Runs before the fill
        if isinstance(event, (events.Key, events.MouseDown)) and not self._panes_mounted:
            await self.mount_panes()
        await super().on_event(event)
