"""Helpers for the Pilot tests of the workbench screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.widgets import Input

from workbench import presets
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.picker_list import PickerList


def make_app(tmp_path, **overrides: Any) -> WorkbenchApp:
    """The app on digits-mlp, runs under tmp_path/runs; `overrides` as KEY=VALUE pairs."""
    items = [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
    return WorkbenchApp(presets.load("digits-mlp", items), runs_root=tmp_path / "runs")


async def wait_for(
    pilot, condition: Callable[[], Any], timeout: float = 30.0, what: str = ""
) -> None:
    """Poll the condition between UI updates (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)
        await asyncio.sleep(0.01)


async def ready(pilot) -> None:
    """Wait until the form is filled: its rows are mounted just after the first frame."""
    await wait_for(pilot, lambda: pilot.app.ready, what="the form to fill")


async def to_setup(pilot) -> None:
    """Show the Setup tab, as a user does before editing (covered, its fields take no focus)."""
    if getattr(pilot.app, "active_tab", "setup") != "setup":  # (a bare app: its one pane)
        await pilot.press("f2")
        await pilot.pause()


async def type_into(pilot, selector: str, text: str) -> Input:
    await to_setup(pilot)
    field = pilot.app.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.pause()
    await pilot.press(*text)
    await pilot.pause()
    return field


async def pick(pilot, section: str, name: str) -> None:
    """Highlight `name` in a picker and press enter, as a user would."""
    await to_setup(pilot)
    ol = pilot.app.query_one(f"#list-{section}", PickerList)
    ol.focus()
    ol.highlighted = ol.index_of(name)
    await pilot.press("enter")
    await pilot.pause()


def log_text(app) -> str:
    # (the Log tab's pane, mounted when the tab is first shown, keeps every line before that too)
    return "\n".join(app._log.history)


def spy(obj: Any, method: str) -> list:
    """Record the arguments of every call of obj.method (still calling it)."""
    calls: list = []
    original = getattr(obj, method)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    setattr(obj, method, wrapper)
    return calls


def row(app, path: str):
    """The form's row for a field path such as 'optimizer.lr'."""
    from workbench.tui.widgets.form import Form

    return app.query_one(Form).rows()[path]


def hint(app, path: str) -> str:
    """The text shown under a field: its description and bounds, or its problem."""
    return row(app, path).hint


async def start_run(pilot) -> list:
    """ctrl+r, then wait for the first batches; returns the status line's events as they come."""
    from workbench.events import BatchEnd
    from workbench.tui.widgets.status import StatusLine

    status = spy(pilot.app.query_one(StatusLine), "update_event")
    await pilot.press("ctrl+r")
    await wait_for(
        pilot, lambda: any(isinstance(e, BatchEnd) for (e,) in status), 60, "the first batches"
    )
    return status
