"""Cost of mapping a 1080p RGB buffer into an ndarray: framepipe vs gst-python.

framepipe runs in this interpreter; gst-python (PyGObject + python3-gst-1.0) runs under
Debian's /usr/bin/python3 in a subprocess, since the venv cannot import Debian's gi. Both
print medians in microseconds; the table gives each one's ratio to framepipe.
Run: ``make bench`` or ``.venv/bin/python bench/map.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import framepipe as fp
import numpy as np
from _common import median_time

W, H = 1920, 1080
SIZE = W * H * 3
REPEAT = 200

GST_PYTHON = f"""
import json, statistics, time
import numpy as np
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
buf = Gst.Buffer.new_allocate(None, {SIZE}, None)

def timed(fn):
    fn()
    ts = []
    for _ in range({REPEAT}):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6

def map_frombuffer():
    ok, info = buf.map(Gst.MapFlags.READ)
    a = np.frombuffer(info.data, np.uint8).reshape({H}, {W}, 3)
    buf.unmap(info)
    return a

def extract_dup():
    return np.frombuffer(buf.extract_dup(0, {SIZE}), np.uint8).reshape({H}, {W}, 3)

print(json.dumps({{"map + np.frombuffer": timed(map_frombuffer), "extract_dup": timed(extract_dup)}}))
"""


def timed(fn) -> float:
    return median_time(fn, REPEAT) * 1e6


def framepipe_times() -> dict[str, float]:
    buf = fp.Buffer(SIZE)
    frame = fp.Frame.from_array(np.zeros((H, W, 3), np.uint8))

    def buffer_map() -> np.ndarray:
        with buf.map() as m:
            return m.array.reshape(H, W, 3)

    def frame_array() -> np.ndarray:
        return np.from_dlpack(frame)

    return {
        "Buffer.map().array": timed(buffer_map),
        "np.from_dlpack(frame) (mapped once)": timed(frame_array),
    }


def gst_python_times() -> dict[str, float] | str:
    try:
        r = subprocess.run(
            ["/usr/bin/python3", "-c", GST_PYTHON], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"gst-python not run: {e}"
    if r.returncode != 0:
        return f"gst-python failed: {r.stderr.strip()[-300:]}"
    return json.loads(r.stdout)


def main() -> None:
    ours = framepipe_times()
    theirs = gst_python_times()
    anchor = ours["Buffer.map().array"]
    print(f"mapping a {W}x{H} RGB buffer ({SIZE / 1e6:.1f} MB) into an ndarray, median of {REPEAT}")
    print("ratio = median / framepipe Buffer.map().array median (higher is slower)")
    print(f"{'method':<46} {'median µs':>12} {'ratio':>14}")
    rows = [(f"framepipe {k}", v) for k, v in ours.items()]
    if isinstance(theirs, dict):
        rows += [(f"gst-python {k}", v) for k, v in theirs.items()]
    for name, us in rows:
        print(f"{name:<46} {us:>12.2f} {us / anchor:>13.1f}x")
    if isinstance(theirs, str):
        print(theirs, file=sys.stderr)


if __name__ == "__main__":
    main()
