"""Pulling frames from an appsink into numpy: framepipe vs gst-python, and 1080p vs native.

Run by ``make bench``. Prints medians and ratios; asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import framepipe as fp
from _common import median_time, system_python, table

SMALL_N = 20_000
BIG_N = 300
SMALL = "videotestsrc num-buffers={n} pattern=solid-color ! video/x-raw,format=RGB,width=64,height=48,framerate=1000/1 ! appsink name=out sync=false"
BIG = "videotestsrc num-buffers={n} pattern={pattern} ! video/x-raw,format=RGB,width=1920,height=1080,framerate=30/1"


def framepipe_pull(desc: str) -> int:
    n = 0
    with fp.Pipeline(desc) as p:
        for frame in p.frames("out"):
            _ = frame.array  # the zero-copy numpy view
            n += 1
    return n


GST_PYTHON = """
import json, time, sys
import numpy as np
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
def run(desc):
    p = Gst.parse_launch(desc)
    sink = p.get_by_name("out")
    p.set_state(Gst.State.PLAYING)
    n = 0
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        caps = sample.get_caps().get_structure(0)
        w, h = caps.get_value("width"), caps.get_value("height")
        ok, info = buf.map(Gst.MapFlags.READ)
        a = np.frombuffer(info.data, np.uint8).reshape(h, -1)[:, : w * 3]
        buf.unmap(info)
        n += 1
    p.set_state(Gst.State.NULL)
    return n
run(%(desc)r.replace("{n}", "50"))
times = []
for _ in range(%(repeat)d):
    t = time.perf_counter(); n = run(%(desc)r.replace("{n}", str(%(n)d))); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"seconds": times[len(times) // 2], "frames": n}))
"""


def gst_launch_seconds(desc: str, sink: str, repeat: int = 5) -> float:
    """Median wall time of gst-launch-1.0 running ``desc ! sink``, less its start-up."""

    def once(d: str) -> float:
        t = time.perf_counter()
        subprocess.run(["gst-launch-1.0", "-q", *d.split()], check=True, capture_output=True)
        return time.perf_counter() - t

    startup = sorted(once(desc.format(n=1) + f" ! {sink}") for _ in range(3))[1]
    runs = sorted(once(desc.format(n=BIG_N) + f" ! {sink}") for _ in range(repeat))
    return max(runs[len(runs) // 2] - startup, 1e-9)


def main() -> None:
    repeat = 5
    fp_small = median_time(lambda: framepipe_pull(SMALL.format(n=SMALL_N)), repeat)
    gi_small = system_python(GST_PYTHON % {"desc": SMALL, "n": SMALL_N, "repeat": repeat})["seconds"]
    fp_fps, gi_fps = SMALL_N / fp_small, SMALL_N / gi_small

    rows = [
        (
            f"64x48 RGB, {SMALL_N} frames: frames/s (anchor: gst-python pull-sample+map+np.frombuffer)",
            f"{gi_fps:,.0f}",
            f"{fp_fps:,.0f}",
            f"{fp_fps / gi_fps:.1f}x (target >= 5x)",
        )
    ]
    # 1080p: the default (smpte) pattern is the pipeline as a user writes it. solid-color
    # makes the source a bare memset, the worst case for any consumer on another thread:
    # fakesink refills one cache-hot buffer on the streaming thread, while a consumer
    # across a thread boundary keeps several 6 MB buffers in flight. `queue ! fakesink`
    # shows that cost in native GStreamer alone.
    for pattern in ("smpte", "solid-color"):
        desc = BIG.replace("{pattern}", pattern)
        fp_big = median_time(
            lambda d=desc: framepipe_pull(d.format(n=BIG_N) + " ! appsink name=out sync=false"), repeat
        )
        for sink in ("fakesink", "queue max-size-buffers=2 ! fakesink"):
            native = gst_launch_seconds(desc, sink, repeat)
            rows.append(
                (
                    f"1920x1080 RGB {pattern}, {BIG_N} frames: frames/s (anchor: gst-launch-1.0 ... ! {sink})",
                    f"{BIG_N / native:,.1f}",
                    f"{BIG_N / fp_big:,.1f}",
                    f"{native / fp_big:.2f} of native (target >= 0.9)",
                )
            )
    table("Pulling frames into numpy (median of 5 runs)", rows)


if __name__ == "__main__":
    main()
