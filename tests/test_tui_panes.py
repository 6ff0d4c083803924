"""The Setup and Log tabs are widgets that own their state: each works in a bare App and says what
it has to say elsewhere through messages (their flows in the app: test_tui_app, test_tui_presets).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import Input, RichLog
from tui_helpers import pick, row, wait_for

from workbench import presets
from workbench.tui.log_pane import LogPane
from workbench.tui.messages import LogLine, Problems
from workbench.tui.setup_pane import SetupPane


class Bare(App[None]):
    """One pane, and every LogLine and Problems message that reaches the app."""

    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane
        self.heard: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_log_line(self, message: LogLine) -> None:
        self.heard.append(message)

    def on_problems(self, message: Problems) -> None:
        self.heard.append(message)

    def on_setup_pane_ready(self, message: SetupPane.Ready) -> None:
        self.heard.append(message)


async def test_the_log_keeps_what_was_written_before_its_view_was_mounted():
    pane = LogPane()
    app = Bare(pane)
    async with app.run_test(size=(80, 24)) as pilot:
        pane.write(Text("one"))
        pane.write(Text("two"))
        assert not app.query(RichLog)
        await pane.fill()
        await pane.fill()  # once only
        pane.write(Text("three"))
        await pilot.pause()
        (view,) = app.query(RichLog)
        assert [strip.text.rstrip() for strip in view.lines] == ["one", "two", "three"]
        assert list(pane.history) == ["one", "two", "three"]


async def test_the_setup_pane_validates_picks_and_refuses_on_its_own():
    raw = presets.read_toml(presets.resolve("digits-mlp"))
    raw["optimizer"] = {"name": "Adam", "lr": -1}
    pane = SetupPane(raw)
    app = Bare(pane)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, SetupPane.Ready) for m in app.heard))
        (told,) = [m for m in app.heard if isinstance(m, Problems)]
        assert told.title == "the preset has problems: fix them in the form"
        assert [str(p) for p in told.problems] == ["optimizer.lr: must be > 0.0, got -1"]
        assert pane.current_experiment() is None
        assert row(app, "optimizer.lr").has_class("-invalid")
        await pick(pilot, "optimizer", "SGD")  # a new class starts from its defaults
        await wait_for(pilot, lambda: "optimizer.momentum" in pane.query_one("Form").rows())
        assert pane.draft.name_of("optimizer") == "SGD"
        assert not pane.check() and pane.current_experiment() is not None
        app.query_one("#f-optimizer-lr", Input).value = "0"
        await wait_for(pilot, lambda: row(app, "optimizer.lr").has_class("-invalid"))
        assert [str(p) for p in pane.check()] == ["optimizer.lr: must be > 0.0, got 0"]


async def test_loading_a_broken_preset_is_logged_and_keeps_the_settings(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[optimizer]\nname = "Adam"\nlr = "fast"\n')
    pane = SetupPane(presets.load("digits-mlp"))
    app = Bare(pane)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, SetupPane.Ready) for m in app.heard))
        before = pane.current_experiment()
        pane.load_preset(broken)
        await wait_for(pilot, lambda: app.screen.is_modal, what="the problems' dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.screen.is_modal)
        (logged,) = [m for m in app.heard if isinstance(m, LogLine)]
        assert logged.message.startswith(f"cannot load {broken}: optimizer.lr")
        assert logged.style == "red"
        assert pane.current_experiment() == before
