"""pyfunc: frames/s of a no-op Python callback in a pipeline vs ``identity``, the per-call overhead, and the rate of adding regions from Python (10 per frame).

Run by ``make bench``. Prints medians and ratios; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import framepipe as fp
import numpy as np
from _common import median_time, table

N = 2000
SRC = f"videotestsrc num-buffers={N} pattern=solid-color ! video/x-raw,format=RGB,width=640,height=480,framerate=1000/1"
# Tiny frames for the per-call overhead, so pixel work does not drown it.
N_SMALL = 20_000
SMALL = f"videotestsrc num-buffers={N_SMALL} pattern=solid-color ! video/x-raw,format=RGB,width=64,height=48,framerate=1000/1"

CALLBACKS = """
def noop(frame):
    pass

def regions10(frame):
    add = frame.add_region
    for i in range(10):
        add(10 * i, 5 * i, 40, 30, "car", 0.5)
"""


def run(desc: str) -> None:
    with fp.Pipeline(desc) as p:
        p.run(timeout=600)


def add_regions_rate(frames: int = 2000) -> float:
    """Regions per second added from Python to a writable frame (10 per frame)."""
    base = fp.Frame.from_array(np.zeros((480, 640, 3), np.uint8))
    copies = [base.copy() for _ in range(frames)]
    t = time.perf_counter()
    for f in copies:
        add = f.add_region
        for i in range(10):
            add(10 * i, 5 * i, 40, 30, "car", 0.5)
    return 10 * frames / (time.perf_counter() - t)


def main() -> None:
    repeat = 5
    with tempfile.TemporaryDirectory() as d:
        mod = Path(d) / "bench_callbacks.py"
        mod.write_text(CALLBACKS)
        t_identity = median_time(lambda: run(f"{SRC} ! identity ! fakesink"), repeat)
        t_noop = median_time(lambda: run(f"{SRC} ! pyfunc module={mod} function=noop ! fakesink"), repeat)
        t_regions = median_time(
            lambda: run(f"{SRC} ! pyfunc module={mod} function=regions10 ! fakesink"), repeat
        )
        s_identity = median_time(lambda: run(f"{SMALL} ! identity ! fakesink"), repeat)
        s_noop = median_time(lambda: run(f"{SMALL} ! pyfunc module={mod} function=noop ! fakesink"), repeat)
    rate = statistics_median([add_regions_rate() for _ in range(repeat)])
    per_call_us = (t_noop - t_identity) / N * 1e6
    per_call_small_us = (s_noop - s_identity) / N_SMALL * 1e6
    pipeline_rate = 10 * N / max(t_regions - t_identity, 1e-9)
    table(
        f"pyfunc, videotestsrc 640x480 RGB -> X -> fakesink, {N} frames (median of {repeat} runs)",
        [
            (
                "frames/s (anchor: identity)",
                f"{N / t_identity:,.0f}",
                f"{N / t_noop:,.0f}",
                f"{t_identity / t_noop:.2f} of identity",
            ),
            (
                "per-call overhead of a no-op pyfunc, 640x480 (µs, vs identity)",
                "-",
                f"{per_call_us:.1f}",
                "-",
            ),
            (
                f"per-call overhead of a no-op pyfunc, 64x48, {N_SMALL} frames (µs, vs identity)",
                f"{s_identity / N_SMALL * 1e6:.1f} µs/frame",
                f"{per_call_small_us:.1f}",
                f"{s_noop / s_identity:.2f}x the identity time",
            ),
            (
                "regions added from Python per s (10 per frame, Frame.add_region)",
                "50,000 (target)",
                f"{rate:,.0f}",
                f"{rate / 50_000:.1f}x target",
            ),
            (
                "regions added per s inside pyfunc (10 per frame, net of identity)",
                "50,000 (target)",
                f"{pipeline_rate:,.0f}",
                f"{pipeline_rate / 50_000:.1f}x target",
            ),
        ],
    )


def statistics_median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


if __name__ == "__main__":
    main()
