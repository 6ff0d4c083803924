"""Saving and loading presets from the screen: ctrl+s, ctrl+o and the command palette.

A mixin of `WorkbenchApp`: each flow is an async worker so that it can wait for a dialog's answer.
Saving asks for a name and never overwrites silently; loading a broken preset shows its problems
and keeps the current experiment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from .. import presets
from ..problems import InvalidExperiment
from .screens import ConfirmScreen, MessageScreen, PresetPickerScreen, SaveNameScreen
from .widgets.form import Form

if TYPE_CHECKING:
    from textual.app import App

    from .draft import Draft

    _Base = App
else:
    _Base = object


class PresetFlows(_Base):
    """ctrl+s and ctrl+o, mixed into `WorkbenchApp` (which gives `draft`, `log_line` and
    `apply_experiment`)."""

    draft: Draft

    def action_save(self) -> None:
        self.save_flow()

    def action_load(self) -> None:
        self.load_flow()

    @work(exclusive=True, group="dialog")
    async def save_flow(self) -> None:
        if self.refused("save", "save"):
            return
        folder = presets.user_presets()
        name = await self.push_screen_wait(
            SaveNameScreen(str(self.draft.raw.get("name", "")), folder)
        )
        if not name:
            return
        exists = (folder / f"{name}.toml").exists()
        question = f"{folder / name}.toml exists. Overwrite it?"
        if exists and not await self.push_screen_wait(
            ConfirmScreen(question, "Overwrite", "Cancel")
        ):
            self.notify("not saved")
            return
        # the experiment takes the preset's name, so that loading it gives it back exactly
        self.draft.set("name", name)
        await self.query_one(Form).rebuild(("train",))
        self.revalidate()
        exp = self.draft.experiment
        assert exp is not None
        try:
            path = presets.save(exp, name, folder, overwrite=True)
        except OSError as e:
            self.notify(f"cannot save: {e}", severity="error")
            self.log_line(f"cannot save preset {name!r}: {e}", "red")
            return
        self.log_line(f"saved preset {name!r} to {path}")
        self.notify(f"saved {path}", title="preset saved")

    @work(exclusive=True, group="dialog")
    async def load_flow(self) -> None:
        path = await self.push_screen_wait(PresetPickerScreen())
        if path is not None:
            await self._load(path)

    def load_preset(self, path: Path | str) -> None:
        """Load a preset file (from the palette or the picker); a broken one changes nothing."""
        self.run_worker(self._load(Path(path)), group="dialog", exclusive=True)

    async def _load(self, path: Path) -> None:
        try:
            exp = presets.load(str(path))
        except InvalidExperiment as e:
            lines = [str(p) for p in e.problems]
            self.log_line(f"cannot load {path}: " + "; ".join(lines), "red")
            await self.push_screen_wait(
                MessageScreen(f"cannot load {path.name}: the current settings stay", lines)
            )
            return
        await self.apply_experiment(exp)
        self.log_line(f"loaded preset {path}")
        self.notify(f"loaded {path.name}", title="preset")
