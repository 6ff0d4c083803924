"""Time to first frame: launch `workbench` in a tmux pseudo-terminal and time until the pickers show.

    python bench/first_frame.py [--repeats 7] [--size 80x24]

For scale it also times `python -c "import torch"` the same way (a process start to its exit).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from _tmux import Session

MARKER = "dataset: "  # the dataset picker's title: the pickers are on screen


def first_frame(size: str) -> float:
    with Session(size=size) as s:
        s.wait_for(MARKER, timeout=30)
        return time.perf_counter() - s.started


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
    first_frame(args.size)  # warm the file cache
    frames = [first_frame(args.size) for _ in range(args.repeats)]
    torch_import = [process_time([sys.executable, "-c", "import torch"]) for _ in range(3)]
    med = statistics.median(frames)
    print(f"time to first frame at {args.size}, median of {args.repeats}: {med:.3f} s "
          f"(min {min(frames):.3f}, max {max(frames):.3f}; target <= 0.5 s)")
    print(f"for scale: python -c 'import torch' takes {statistics.median(torch_import):.3f} s")


if __name__ == "__main__":
    main()
