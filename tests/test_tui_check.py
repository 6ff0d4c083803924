"""Pilot tests of f8, the pre-flight (`workbench check`) of the Setup tab's settings."""

from __future__ import annotations

from tui_helpers import log_text, make_app, ready, type_into, wait_for

from workbench.tui import keys
from workbench.tui.screens import MessageScreen
from workbench.tui.widgets.status import StatusLine

RAISES = '''
import torch
from torch.utils.data import Dataset


class Broken(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        raise ValueError("no item " + str(i))
'''


def test_f8_is_bound_with_an_id_and_described():
    (binding,) = [b for b in keys.BINDINGS if b.key == "f8"]
    assert (binding.action, binding.id, binding.priority) == ("check", "check", True)
    assert ("f8", keys.HELP["check"]) in keys.help_keys()


async def test_f8_checks_the_settings_off_the_ui_thread_and_shows_the_report(tmp_path, monkeypatch):
    import threading

    from workbench import preflight

    release, real = threading.Event(), preflight.run_check

    def held(exp):  # the check waits until the test has seen the key return
        release.wait(30)
        return real(exp)

    monkeypatch.setattr(preflight, "run_check", held)
    app = make_app(tmp_path, train__device="cpu")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        assert app._setup.checking  # the key returned at once; the check goes on in a thread
        release.set()
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), 120, "the report")
        report = app.screen
        assert report.title_text.startswith("check: digits-mlp")
        text = "\n".join(report.lines)
        assert "inputs (16, 1, 8, 8) float32" in text and "output (16, 10)" in text
        assert "projected epoch" in text and "peak" in text
        await wait_for(pilot, lambda: "parameters" in log_text(app), what="the report in the log")
        assert "check: digits-mlp" in log_text(app)
        await wait_for(pilot, lambda: app.query_one(StatusLine).status.source, what="the summary")
        status = app.query_one(StatusLine).status
        assert status.state == "idle" and "params" in status.source and "/batch" in status.source
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.screen.is_modal)
        assert not app._setup.checking
        await type_into(pilot, "#f-optimizer-lr", "0.01")  # other settings: the summary goes
        await wait_for(pilot, lambda: not app.query_one(StatusLine).status.source, what="clear")


async def test_f8_is_refused_while_the_settings_have_problems(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "-1")
        await pilot.press("f8")
        await pilot.pause()
        assert "check refused: optimizer.lr: must be > 0" in log_text(app)
        assert not app._setup.checking and not app.screen.is_modal


async def test_a_check_that_fails_says_so_as_a_run_would_and_the_app_stays_usable(tmp_path):
    (tmp_path / "broken.py").write_text(RAISES)
    app = make_app(tmp_path, data__name="custom", data__path=f"{tmp_path / 'broken.py'}:Broken",
                   data__task="classification", data__num_outputs=2, train__device="cpu")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: "check failed" in log_text(app), 120, "the failure")
        await wait_for(pilot, lambda: not app._setup.checking)
        log = log_text(app)
        assert "check failed (user_code)" in log and "no item" in log and "broken.py" in log
        assert any("no item" in n.message for n in app._notifications)
        assert not app.screen.is_modal
        await type_into(pilot, "#f-optimizer-lr", "0.01")  # still editable
        assert app.draft.experiment.optimizer.lr == 0.01
