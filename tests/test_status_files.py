"""Broken or foreign status.json files (and metrics.jsonl lines): shown as unreadable, no crash.

Every reader of a run folder (`workbench runs`, the Runs tab on its timer, the watcher, stopping a
run, checking a folder before a run) goes through `runstatus.load_status`, which checks the types.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest
from conftest import subprocess_env, workbench_cmd
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from tui_helpers import wait_for

from workbench import runs
from workbench.cli import main
from workbench.detach import DetachError, busy_problem, folder_in_use, stop_run
from workbench.runlist import list_runs, run_info
from workbench.runstatus import effective_state, read_status
from workbench.tui.runs_pane import RunsPane

GOOD = {"state": "finished", "pid": 1, "host": "elsewhere", "world_size": 1, "epoch": 3,
        "max_epochs": 3, "started": 100.0, "updated": 200.0, "metrics": {"val_loss": 0.25}}

#: status.json contents -> what the listing says is wrong with it
BROKEN = {
    "epoch-null": ('{"state": "running", "epoch": null}', "status.json: epoch is null"),
    "not-json": ("{'state': 'running',", "status.json is not JSON"),
    "empty": ("", "status.json is not JSON"),
    "a-list": ("[1, 2, 3]", "status.json is not a JSON object (it is an array)"),
    "max-epochs-text": ('{"max_epochs": "x"}',
                        "status.json: max_epochs is a string ('x'), not a whole number"),
    "metrics-list": ('{"metrics": [1]}',
                     "status.json: metrics is an array, not an object of numbers"),
    "metric-text": ('{"metrics": {"val_loss": "low"}}',
                    "metrics is an object, not an object of numbers"),
    "updated-text": ('{"updated": "yesterday"}',
                     "updated is a string ('yesterday'), not a time in seconds"),
    "started-nan": ('{"started": NaN}', "started is nan, not a time in seconds"),
    "pid-text": ('{"state": "running", "pid": "abc"}', "pid is a string ('abc'), not a process id"),
    "pid-negative": ('{"state": "running", "pid": -1}', "pid is -1, not a process id"),
    "pid-huge": ('{"state": "running", "pid": 99999999999999}',
                 "pid is 99999999999999, not a process id"),
    "world-size-null": ('{"world_size": null}', "status.json: world_size is null"),
    "epoch-bool": ('{"epoch": true}', "epoch is true, not a whole number"),
    "epoch-float": ('{"epoch": 1.5}', "epoch is 1.5, not a whole number"),
    "state-foreign": ('{"state": "banana"}', "state 'banana' is not one of"),
    "host-number": ('{"state": "running", "host": 7, "pid": 1}', "host is 7, not a string"),
    "error-list": ('{"state": "failed", "error": ["x"]}', "error is an array, not a string"),
}


def _run_folder(root, name, status: str | bytes | None, epochs: int = 0):
    d = root / name
    d.mkdir(parents=True)
    (d / runs.CONFIG).write_text('name = "x"\n[train]\nmax_epochs = 3\n')
    lines = [{"epoch": e, "step": e * 10, "train_loss": 1.0 / e} for e in range(1, epochs + 1)]
    (d / runs.METRICS).write_text("".join(json.dumps(r) + "\n" for r in lines))
    if status is not None:
        path = d / "status.json"
        path.write_bytes(status) if isinstance(status, bytes) else path.write_text(status)
    return d


@pytest.fixture
def broken_root(tmp_path):
    root = tmp_path / "runs"
    _run_folder(root, "good", json.dumps(GOOD), epochs=3)
    for name, (text, _) in BROKEN.items():
        _run_folder(root, name, text, epochs=1)
    _run_folder(root, "not-utf8", b'{"state": "\xff\xfe"}')
    return root


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_status_file_is_refused_with_the_reason(tmp_path, name):
    from workbench.runstatus import BadStatus, load_status

    text, reason = BROKEN[name]
    d = _run_folder(tmp_path, name, text)
    with pytest.raises(BadStatus) as caught:
        load_status(d)
    assert reason in str(caught.value)
    assert read_status(d) is None
    info = run_info(d)
    assert info is not None and info.state == "unreadable" and reason in info.error


def test_a_good_status_file_reads_and_a_missing_one_is_none(tmp_path):
    from workbench.runstatus import BadStatus, load_status

    d = _run_folder(tmp_path, "good", json.dumps({**GOOD, "pid_start": None, "started": 1}))
    assert load_status(d)["epoch"] == 3 and effective_state(load_status(d)) == "finished"
    assert load_status(_run_folder(tmp_path, "none", None)) is None
    fifo = _run_folder(tmp_path, "fifo", None) / "status.json"
    os.mkfifo(fifo)  # a reader that opened it would wait for a writer forever
    with pytest.raises(BadStatus, match="not a regular file"):
        load_status(fifo.parent)


def test_workbench_runs_lists_broken_status_files_as_unreadable(broken_root, capsys):
    assert main(["runs", str(broken_root)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {"good", "not-utf8", *BROKEN}
    assert lines["good"].split()[1:3] == ["finished", "3/3"] and "val_loss 0.2500" in lines["good"]
    for name, (_, reason) in BROKEN.items():
        assert lines[name].split()[1] == "unreadable", name
        assert lines[name].split()[2] == "1/3"  # what metrics.jsonl and config.toml say
        assert reason in lines[name], name
    assert "status.json is not JSON" in lines["not-utf8"]


def test_the_workbench_runs_command_exits_0_without_a_traceback(broken_root):
    proc = subprocess.run(workbench_cmd("runs", str(broken_root)), capture_output=True, text=True,
                          env=subprocess_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count("unreadable") == len(BROKEN) + 1


def test_stop_and_resume_checks_survive_a_broken_status(tmp_path):
    d = _run_folder(tmp_path, "r", '{"state": "running", "pid": "abc", "host": "%s"}'
                    % socket.gethostname())
    with pytest.raises(DetachError, match="pid is a string"):
        stop_run(d)
    assert folder_in_use(d)  # a foreign file is there: a new run does not go into this folder
    assert busy_problem(d) is None


def test_list_runs_skips_foreign_metrics_lines_and_config(tmp_path):
    d = _run_folder(tmp_path, "old", None)
    (d / runs.CONFIG).write_text("train = 3\n")  # not a table
    (d / runs.METRICS).write_text('{"epoch": 1, "train_loss": 0.7}\n'
                                  '{"epoch": "2", "train_loss": 0.5}\n')
    [info] = list_runs(tmp_path)
    assert (info.state, info.epoch, info.max_epochs) == ("unknown", 1, 0)
    assert info.metrics == {"train_loss": 0.7}


class Holder(App):
    def __init__(self, root) -> None:
        super().__init__()
        self.root = root

    def compose(self) -> ComposeResult:
        yield RunsPane(self.root, id="runs")


def table_rows(app) -> dict[str, list[str]]:
    table = app.query_one("#runs-table", DataTable)
    got = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return {r[1]: r for r in got}


async def test_the_runs_tab_shows_broken_status_files_on_its_timer(tmp_path, broken_root):
    good_only = tmp_path / "later"
    _run_folder(good_only, "good", json.dumps(GOOD), epochs=3)
    app = Holder(good_only)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: "good" in table_rows(app), timeout=10, what="1st listing")
        # broken files appear in the folder the tab shows; its timer reads them again
        for name, (text, _) in list(BROKEN.items())[:6]:
            _run_folder(good_only, name, text, epochs=1)
        await wait_for(pilot, lambda: len(table_rows(app)) == 7, timeout=10, what="the refresh")
        rows = table_rows(app)
        assert rows["good"][2] == "finished" and "val_loss" in rows["good"][5]
        for name, (_, reason) in list(BROKEN.items())[:6]:
            assert rows[name][2] == "unreadable" and reason in rows[name][5], name
        app.query_one(RunsPane).root = broken_root
        app.query_one(RunsPane).refresh_runs(force=True)
        await pilot.pause()
        assert len(table_rows(app)) == len(BROKEN) + 2
