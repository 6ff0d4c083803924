"""Time to first frame: launch `workbench` in a tmux pseudo-terminal and time until the pickers show.

    python bench/first_frame.py [--repeats 7] [--size 80x24]

For scale it also times `python -c "import torch"` the same way (a process start to its exit).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

MARKER = "Dataset"  # the dataset picker's title: the pickers are on screen


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def first_frame(cmd: str, size: str, marker: str, timeout: float = 30.0) -> float:
    session = f"wbbench-{uuid.uuid4().hex[:8]}"
    cols, rows = size.split("x")
    t0 = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", cols, "-y", rows, cmd)
    try:
        while time.perf_counter() - t0 < timeout:
            if marker in tmux("capture-pane", "-p", "-t", session):
                return time.perf_counter() - t0
            time.sleep(0.005)
        raise TimeoutError(f"{marker!r} did not appear within {timeout} s")
    finally:
        tmux("kill-session", "-t", session)


def process_time(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", default="80x24")
    args = ap.parse_args()
    if not shutil.which("tmux"):
        sys.exit("needs tmux (apt-get install tmux)")
    env_cmd = f"cd {os.getcwd()} && exec {sys.executable} -m workbench"
    first_frame(env_cmd, args.size, MARKER)  # warm the file cache
    frames = [first_frame(env_cmd, args.size, MARKER) for _ in range(args.repeats)]
    torch_import = [process_time([sys.executable, "-c", "import torch"]) for _ in range(3)]
    med = statistics.median(frames)
    print(f"time to first frame at {args.size}, median of {args.repeats}: {med:.3f} s "
          f"(min {min(frames):.3f}, max {max(frames):.3f}; target <= 0.5 s)")
    print(f"for scale: python -c 'import torch' takes {statistics.median(torch_import):.3f} s")


if __name__ == "__main__":
    main()
