"""Soak: many pulls, file open/read/close cycles, writes and pipelines with Python elements.

Resident memory, threads and file descriptors are sampled after a warm-up (a tenth of each
phase) and at the end of the phase; growth must stay under --max-rss-mb (5 MB) with
threads and descriptors back where they were.

    python tests/battery/soak.py                 # full: 100k pulls, 2000 files, 1000 writes, 1000 pipelines
    python tests/battery/soak.py --scale 0.01    # the slice `make test` runs

Prints one line per phase and exits 1 when a phase leaks.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def sample() -> tuple[float, int, int]:
    gc.collect()
    time.sleep(0.5)  # let streaming threads of stopped pipelines return to their pool
    gc.collect()
    return rss_mb(), threads(), fds()


# GLib's thread pool (GStreamer's streaming threads) keeps up to 2 idle threads for reuse,
# and ends them only after 15 s: a phase may end with those 2 more than it started with.
POOL_IDLE_THREADS = 2


def phase(name: str, total: int, step: Callable[[int], None], max_rss_mb: float) -> bool:
    # Decoders, encoders and pools reach their steady size within the first few cycles.
    warm = max(total // 10, min(20, total // 2))
    t0 = time.monotonic()
    for i in range(warm):
        step(i)
    before = sample()
    for i in range(warm, total):
        step(i)
    after = sample()
    elapsed = time.monotonic() - t0
    grew = after[0] - before[0]
    ok = grew < max_rss_mb and after[1] <= before[1] + POOL_IDLE_THREADS and after[2] <= before[2]
    print(
        f"{name:<28} {total:>7} in {elapsed:6.1f} s  rss {before[0]:7.1f} -> {after[0]:7.1f} MB "
        f"({grew:+.2f})  threads {before[1]} -> {after[1]}  fds {before[2]} -> {after[2]}  "
        f"{'ok' if ok else 'LEAK'}",
        flush=True,
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--max-rss-mb", type=float, default=5.0)
    args = ap.parse_args()
    import framepipe as fp
    import numpy as np

    n = lambda full: max(20, int(full * args.scale))  # noqa: E731
    ok = True
    work = Path(tempfile.mkdtemp(prefix="fpsoak-"))

    # Pulls from one long-running pipeline.
    p = fp.Pipeline(
        "videotestsrc ! video/x-raw,format=RGB,width=64,height=48,framerate=1000/1 ! appsink name=out sync=false max-buffers=4"
    )
    p.play()

    def pull(_: int) -> None:
        f = p.pull("out", timeout=10)
        assert f is not None and f.array.shape == (48, 64, 3)

    ok &= phase("pulls", n(100_000), pull, args.max_rss_mb)
    p.stop()

    clip = work / "clip.mp4"
    with fp.open(clip, "w") as f:
        f.write(np.zeros((10, 48, 64, 3), np.uint8), fps=10)

    def open_read_close(_: int) -> None:
        with fp.open(clip) as f:
            assert f.read(index=3).shape == (48, 64, 3)

    ok &= phase("open/read/close", n(2000), open_read_close, args.max_rss_mb)

    out = work / "out.mp4"
    frame = np.zeros((48, 64, 3), np.uint8)

    def write(i: int) -> None:
        with fp.open(out, "w") as f:
            f.write(np.stack([frame] * 3), fps=10)

    ok &= phase("writes (3-frame files)", n(1000), write, args.max_rss_mb)

    @fp.element("pysoakinvert")
    class Invert(fp.Transform):
        caps = "video/x-raw,format=GRAY8"

        def transform_ip(self, frame: fp.Frame) -> None:
            frame.array[...] = 255 - frame.array

    @fp.element("pysoaksink")
    class Sink(fp.Sink):
        def render(self, frame: fp.Frame) -> None:
            frame.array.sum()

    def pipelines(_: int) -> None:
        q = fp.Pipeline(
            "videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=32,height=24 "
            "! pysoakinvert ! tee name=t t. ! queue ! pysoaksink t. ! queue ! appsink name=out sync=false"
        )
        with q:
            assert len(list(q.frames("out", timeout=10))) == 3

    ok &= phase("pipelines with Python elements", n(1000), pipelines, args.max_rss_mb)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
