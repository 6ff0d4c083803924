"""The app's keys: every binding, with the id users may remap it by, and what f1 says of it.

Each tab's widget keeps its own keys (the Runs tab's enter, s, r, o, space and c, in the footer
while its table has focus; the form's up and down); these
are the app's, with priority so that they work whatever has focus.
"""

from __future__ import annotations

from textual.binding import Binding

TABS = ("setup", "train", "data", "log", "runs")

BINDINGS: list[Binding] = [
    Binding("ctrl+r", "run", "Run", priority=True, id="run"),
    Binding("ctrl+t", "pause", "Pause", priority=True, id="pause"),
    # the same key while paused (App.check_action shows one of the two)
    Binding("ctrl+t", "resume", "Resume", priority=True, id="resume"),
    Binding("ctrl+g", "stop", "Stop", priority=True, id="stop"),
    Binding("ctrl+s", "save", "Save", priority=True, id="save"),
    Binding("ctrl+o", "load", "Load", priority=True, id="load"),
    Binding("ctrl+n", "next_batch", "Batch", priority=True, id="next-batch"),
    Binding("f1", "help", "Help", priority=True, id="help"),
    Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
    # last, so that at 60 columns the footer drops it rather than f1 (whose screen lists it)
    Binding("ctrl+y", "run_detached", "Detach", priority=True, id="run-detached"),
    Binding("f7", "run_config", "Run config", show=False, priority=True, id="run-config"),
    # not in the footer: at 80 columns it has no room left after ctrl+y (f1 lists it)
    Binding("f8", "check", "Check", show=False, priority=True, id="check"),
    # not in the footer: at 80 columns it would push out f1 (whose screen lists it)
    Binding("f9", "lr_find", "LR find", show=False, priority=True, id="lr-find"),
    Binding("ctrl+e", "export", "Export", show=False, priority=True, id="export"),
    *(
        Binding(f"f{i + 2}", f"tab('{t}')", t.title(), show=False, id=f"tab-{t}")
        for i, t in enumerate(TABS)
    ),
]
#: columns below which an action leaves the footer (it would be cut at the right edge)
FOOTER_MIN_WIDTH: dict[str, int] = {"run_detached": 80}
#: what the help screen says for each action
HELP: dict[str, str] = {
    "run": "start a run with the current settings (refused while any field has a problem)",
    "pause": "pause / resume the run (between batches)",
    "stop": "stop the run after the current batch; a checkpoint is saved (a watched run, one "
    "this window did not start: after asking)",
    "save": "save the settings as a preset (asks for a name, asks before overwriting)",
    "load": "load a shipped or user preset",
    "next_batch": "show the next training batch in the Data tab (no run needed)",
    "run_detached": "start the settings as a detached run (its own process, outlives this "
    "window; torchrun when train.devices > 1) and watch it",
    "run_config": "load the watched run's config.toml into Setup",
    "check": "pre-flight of the current settings (workbench check): one real batch forward, "
    "backward and step; shapes, parameters, time per batch, memory, projected epoch and run",
    "lr_find": "LR range test on the current settings (a throwaway model, nothing saved); "
    "its plot offers the suggested optimizer.lr for the form",
    "export": "write the current settings as one plain PyTorch script (workbench export) to "
    "<name>.py in the current folder; the Log says where",
    "help": "this screen",
    "quit": "quit; while a run is going, asks: leave it running (it goes on without this "
    "window), stop it (with a checkpoint) and quit, or cancel",
}


def tab_key(tab: str) -> str:
    """The key that shows a tab ("f6" for the Runs tab)."""
    return f"f{TABS.index(tab) + 2}"


def help_keys() -> list[tuple[str, str]]:
    """(key, what it does) for the help screen, in the bindings' order."""
    return [(b.key, HELP.get(b.action, b.description)) for b in BINDINGS if b.action in HELP]
