"""ctrl+e in the app: the Setup tab's settings written as a plain script in the current folder,
never over an existing file; refused while the settings have problems."""

from __future__ import annotations

from workbench.export.parts import ACTIVATIONS

from tui_helpers import log_text, make_app, ready, type_into, wait_for


async def test_ctrl_e_exports_the_current_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits-mlp.py").write_text("# the user's own file\n")
    app = make_app(tmp_path, model__activation="tanh")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "0.02")
        await pilot.press("ctrl+e")
        out = tmp_path / "digits-mlp-2.py"
        await wait_for(pilot, lambda: "exported to" in log_text(app), 300, "the export")
        assert f"exported to {out}" in log_text(app)
    text = out.read_text()
    assert "LR = 0.02" in text and f"ACTIVATION = {ACTIVATIONS['tanh']}" in text
    assert (tmp_path / "digits-mlp.py").read_text() == "# the user's own file\n"


async def test_ctrl_e_is_refused_while_the_settings_have_problems(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await type_into(pilot, "#f-optimizer-lr", "-1")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert "export refused: optimizer.lr: must be > 0" in log_text(app)
    assert not list(tmp_path.glob("*.py"))
