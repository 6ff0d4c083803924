"""Regenerate the SVG screenshots of the workbench screen in docs/.

    PYTHONPATH=. python docs/make_screenshots.py

Each shot opens the app on the offline default (digits-mlp) in a headless terminal of the given
size; the Train shots first run a few epochs (in a temporary folder) so that the plots have data,
with a cosine schedule so that the falling learning rate shows (epoch plot's title, status line).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from workbench import presets  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402

SHOTS = [  # file, size, epochs to run first (0: none), tab
    ("tui-setup-80x24.svg", (80, 24), 0, "setup"),
    ("tui-train-80x24.svg", (80, 24), 5, "train"),
    ("tui-setup-160x50.svg", (160, 50), 0, "setup"),
    ("tui-train-160x50.svg", (160, 50), 5, "train"),
]


async def shoot(filename: str, size: tuple[int, int], epochs: int, tab: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_PRESETS"] = str(Path(tmp) / "presets")
        schedule = ["scheduler.name=CosineAnnealingLR"] if epochs else []
        exp = presets.load("digits-mlp", [f"train.max_epochs={epochs or 20}", *schedule])
        app = WorkbenchApp(exp, runs_root=Path(tmp) / "runs")
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 120
            while not app.torch_ready and time.monotonic() < deadline:
                await pilot.pause(0.1)
            if epochs:
                await pilot.press("ctrl+r")
                await pilot.pause(0.5)
                while app.runner.active and time.monotonic() < deadline:
                    await pilot.pause(0.1)
            app.show_tab(tab)
            await pilot.pause(1.0)  # the plots redraw on a timer
            app.save_screenshot(filename=filename, path=str(DOCS))
    print(f"wrote docs/{filename}")


async def main() -> None:
    for shot in SHOTS:
        await shoot(*shot)


if __name__ == "__main__":
    asyncio.run(main())
