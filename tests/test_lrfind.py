"""`workbench lr-find`: Smith's range test on a throwaway model, drawn with plotext, one override."""

from __future__ import annotations

import math
import re

from workbench import cli, lrfind


def test_suggest_finds_the_steepest_descent_of_a_known_curve():
    lrs = [10 ** (-6 + i * 0.1) for i in range(60)]  # 1e-6 .. ~1e-0.1
    # flat, then a drop centred on 1e-3 (steepest there), then a climb
    loss = [2 - math.tanh((math.log10(lr) + 3) * 3) + max(0.0, math.log10(lr) + 1.5) ** 2 for lr in lrs]
    steepest = lrfind.suggest(lrs, loss)
    assert 10**-3.2 <= steepest <= 10**-2.8


def test_suggest_needs_a_falling_curve():
    lrs = [10 ** (-6 + i * 0.1) for i in range(30)]
    assert lrfind.suggest(lrs, [1.0 + i for i in range(30)]) is None
    assert lrfind.suggest(lrs[:3], [3.0, 2.0, 1.0]) is None


def test_lr_find_draws_and_prints_one_override_that_trains_to_the_bar(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lr-find", "digits-mlp"]) == 0
    out = capsys.readouterr().out
    assert "learning rate (log)" in out and "suggested" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("optimizer.lr=")]
    assert len(lines) == 1 and out.rstrip().endswith(lines[0])
    lr = float(lines[0].split("=")[1])
    assert 1e-4 <= lr <= 0.05
    assert not (tmp_path / "runs").exists()  # nothing written
    # the suggestion trains: digits-mlp's preset states val_accuracy >= 0.95
    assert cli.main(["run", "digits-mlp", lines[0], "train.max_epochs=8", "--out", "r", "--quiet"]) == 0
    final = capsys.readouterr().out
    acc = float(re.search(r"val_accuracy (\d\.\d+)", final).group(1))
    assert acc >= 0.95, final


def test_lr_find_refuses_bad_input_with_exit_2(capsys):
    assert cli.main(["lr-find", "digits-mlp", "optimizer.lr=-1"]) == 2
    assert cli.main(["lr-find", "digits-mlp", "--min-lr", "1", "--max-lr", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "optimizer.lr" in err and "--min-lr" in err
