"""Key latency under load: while a run keeps both cores busy, the time from a key press to the
screen showing it, in the real `workbench` app in tmux.

    python bench/key_latency.py [--presses 40] [--size 80x24]

Keys measured: down / up in the dataset picker (the highlight moves), and, reported apart, tab
switches (F2 Setup / F3 Train) and down / up between the form's fields. Also timed: resizes of
the terminal (between the given size and 120x40, on the Train tab, then on the Setup tab), to
the footer redrawn on the new last line. The time includes tmux's own round trip (send-keys,
then capture-pane each time the app has written to the terminal, which a tmux control-mode client
reports: `Session.wait_change`), so it is an upper bound. (Until 2026-12-07 it polled
capture-pane back to back, which took most of a core from the app it measured.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _tmux import Session, tmux

SETUP_MARK, TRAIN_MARK = "dataset: ", "loss by epoch"


def body(s: Session) -> str:
    """The screen without the status line and the footer, which change on their own in a run."""
    return "\n".join(s.screen().splitlines()[:-3])


def timed(s: Session, key: str, done) -> float:
    """Seconds from sending `key` to `done(screen before)` holding, the screen read again after
    each write of the app (`Session.wait_change`)."""
    before = body(s)
    s.follow_output()
    t0 = time.perf_counter()
    s.keys(key)
    s.wait_change(lambda: done(before), what=repr(key))
    return time.perf_counter() - t0


def footer_at(s: Session, rows: int) -> bool:
    """Whether the app has drawn its footer on the last line of a terminal `rows` high, and the
    status line above it (a redraw for the new size, not the old screen cut or padded)."""
    lines = s.screen().splitlines()
    return len(lines) >= rows and "Quit" in lines[rows - 1] and "epoch" in lines[rows - 2]


def resized(s: Session, size: str, times: int = 10) -> list[float]:
    """Resize the terminal between `size` and 120x40 `times` times; the time of each to the
    app's redraw for the new size (its footer and status line on the new last lines)."""
    sizes, took = [size, "120x40"], []
    for i in range(times):
        cols, rows = sizes[(i + 1) % 2].split("x")
        s.follow_output()
        t0 = time.perf_counter()
        tmux("resize-window", "-t", s.name, "-x", cols, "-y", rows)
        s.wait_change(lambda: footer_at(s, int(rows)), what=f"footer on line {rows}")
        took.append(time.perf_counter() - t0)
        time.sleep(0.3)
    return took


def summary(name: str, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return f"{name}: median {statistics.median(times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--size", default="80x24")
    ap.add_argument("--idle", action="store_true", help="measure without a run, for comparison")
    args = ap.parse_args()
    from workbench import presets

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exp = presets.load("digits-mlp", ["train.max_epochs=1000", "train.threads=2", "name=bench-keys",
                                          "train.device=cpu"])
        preset = tmp / "bench-keys.toml"
        preset.write_text(presets.dumps(exp))
        with Session(str(preset), size=args.size, cwd=tmp) as s:
            s.wait_for(SETUP_MARK, timeout=60)
            if not args.idle:
                s.keys("C-r")
                s.wait_for("running", timeout=60)
            time.sleep(2)  # let the run (or torch's import) get going
            s.keys("F2")  # starting a run shows the Train tab: back to Setup,
            s.wait_for(SETUP_MARK, timeout=10)
            s.keys("Tab", "Tab")  # and focus the dataset picker (from none: the tab bar, then it)
            time.sleep(0.5)
            nav = []
            for i in range(args.presses):
                nav.append(timed(s, "Down" if i % 2 == 0 else "Up", lambda before: body(s) != before))
                time.sleep(0.05)
            tabs = []
            for i in range(args.presses // 2):
                key, mark, other = ("F3", TRAIN_MARK, SETUP_MARK) if i % 2 == 0 else ("F2", SETUP_MARK, TRAIN_MARK)
                tabs.append(timed(s, key, lambda _b: mark in (sc := s.screen()) and other not in sc))
                time.sleep(0.05)
            fields = []  # the form: tab from the last picker to the first field, then down / up
            s.keys("F2")
            s.wait_for(SETUP_MARK, timeout=10)
            names = ["max_epochs", "device", "seed", "name"]
            for _ in range(8):  # from wherever the focus is on Setup to the first field
                if f"▸ {names[0]}" in s.screen():
                    break
                s.keys("Tab")
                time.sleep(0.5)
            s.wait_for(f"▸ {names[0]}", timeout=10)
            at = 0
            for i in range(args.presses // 2):
                to = at + 1 if (i // 3) % 2 == 0 else at - 1
                fields.append(timed(s, "Down" if to > at else "Up",
                                    lambda _b, n=names[to]: f"▸ {n}" in s.screen()))
                at = to
                time.sleep(0.05)
            resizes = {}
            for key, mark, tab in (("F3", TRAIN_MARK, "Train"), ("F2", SETUP_MARK, "Setup")):
                s.keys(key)
                s.wait_for(mark, timeout=10)
                resizes[tab] = resized(s, args.size)
            s.keys("C-g")
            if not args.idle:  # the run saves its checkpoint, then the folder can go
                s.wait_for("interrupted", timeout=60)  # ctrl+g is SIGTERM to the run, as any stop
    during = "with no run" if args.idle else "during a run on 2 threads"
    print(f"key press -> screen {during}, {args.size}:")
    print("  " + summary(f"picker down/up ({len(nav)} presses)", nav) + "   (target p95 <= 50 ms)")
    print("  " + summary(f"tab switch F2/F3 ({len(tabs)} presses)", tabs) + "   (target p95 <= 100 ms)")
    print("  " + summary(f"form field down/up ({len(fields)} presses)", fields))
    for tab, times in resizes.items():
        print("  " + summary(f"resize {args.size} <-> 120x40 on the {tab} tab ({len(times)})", times))


if __name__ == "__main__":
    main()
