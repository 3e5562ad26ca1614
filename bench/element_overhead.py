"""Per-buffer overhead of a pass-through Python Transform: framepipe vs gst-python.

Both elements do nothing with the buffer. Each is timed over N small buffers
(``fakesrc ! element ! fakesink``), and the time of the same pipeline with the native
``identity`` in its place, measured in the same process, is subtracted: what remains is
what hosting the element in Python costs per buffer. The gst-python anchor is a
GstBase.BaseTransform loaded by Debian's gstreamer1.0-python3-plugin-loader (its module in
a ``python/`` directory on GST_PLUGIN_PATH, with a registry of its own) under
/usr/bin/python3. Target (DESIGN.md section 3): framepipe's overhead at most 1/8 of
gst-python's.

Run by ``make bench``. Prints medians and the ratio; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import framepipe as fp
from _common import system_python, table

N = 100_000
REPEAT = 5
PIPELINE = (
    "fakesrc num-buffers={n} sizetype=fixed sizemax=64 filltype=nothing ! application/octet-stream"
    " ! {element} ! fakesink sync=false"
)


@fp.element("fpbenchpass", classification="Filter", description="Does nothing, in Python")
class PassThrough(fp.Transform):
    def transform_ip(self, frame: fp.Frame) -> None:
        return None


def framepipe_times(elements: tuple[str, ...]) -> dict[str, list[float]]:
    """Time each pipeline, the elements taking turns so that load drifts hit all alike."""
    times: dict[str, list[float]] = {e: [] for e in elements}
    for element in elements:
        fp.Pipeline(PIPELINE.format(n=100, element=element)).run()  # warm-up
    for _ in range(REPEAT):
        for element in elements:
            p = fp.Pipeline(PIPELINE.format(n=N, element=element))
            t = time.perf_counter()
            p.run()
            times[element].append(time.perf_counter() - t)
    return times


GST_PYTHON_ELEMENT = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
from gi.repository import Gst, GObject, GstBase

class PassThrough(GstBase.BaseTransform):
    __gstmetadata__ = ("gst-python pass-through", "Filter", "Does nothing, in Python", "bench")
    __gsttemplates__ = (
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
    )

    def do_transform_ip(self, buf):
        return Gst.FlowReturn.OK

GObject.type_register(PassThrough)
__gstelementfactory__ = ("gstpybenchpass", Gst.Rank.NONE, PassThrough)
"""

GST_PYTHON_RUN = """
import json, time
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
def run(element, n):
    p = Gst.parse_launch(%(pipeline)r.format(n=n, element=element))
    t = time.perf_counter()
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    dt = time.perf_counter() - t
    p.set_state(Gst.State.NULL)
    if msg.type != Gst.MessageType.EOS:
        raise SystemExit("gst-python pipeline failed: %%s" %% (msg.parse_error(),))
    return dt
if Gst.ElementFactory.find("gstpybenchpass") is None:
    raise SystemExit("the gst-python plugin loader did not load the element")
out = {"identity": [], "gstpybenchpass": []}
for element in out:
    run(element, 100)
for _ in range(%(repeat)d):
    for element in out:
        out[element].append(run(element, %(n)d))
print(json.dumps(out))
"""


def gst_python_times() -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "python").mkdir()
        (Path(tmp) / "python" / "gstpybenchpass.py").write_text(GST_PYTHON_ELEMENT)
        saved = {k: os.environ.get(k) for k in ("GST_PLUGIN_PATH", "GST_REGISTRY")}
        os.environ["GST_PLUGIN_PATH"] = tmp  # framepipe's plugin deliberately not on it
        os.environ["GST_REGISTRY"] = str(Path(tmp) / "registry.bin")
        try:
            code = GST_PYTHON_RUN % {"pipeline": PIPELINE, "n": N, "repeat": REPEAT}
            return system_python(code)  # type: ignore[return-value]
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def per_buffer_us(times: list[float], native: list[float]) -> float:
    return (statistics.median(times) - statistics.median(native)) / N * 1e6


def main() -> None:
    gp = gst_python_times()
    fp_times = framepipe_times(("identity", "fpbenchpass"))
    native_fp, ours = fp_times["identity"], fp_times["fpbenchpass"]
    gp_over = per_buffer_us(gp["gstpybenchpass"], gp["identity"])
    fp_over = per_buffer_us(ours, native_fp)
    rows = [
        (
            f"native identity, {N} buffers (s)",
            f"{statistics.median(gp['identity']):.3f}",
            f"{statistics.median(native_fp):.3f}",
            "",
        ),
        (
            "Python element, same pipeline (s)",
            f"{statistics.median(gp['gstpybenchpass']):.3f}",
            f"{statistics.median(ours):.3f}",
            "",
        ),
        (
            "overhead per buffer (us), minus identity",
            f"{gp_over:.2f}",
            f"{fp_over:.2f}",
            f"{fp_over / gp_over:.3f} (target <= 0.125)" if gp_over > 0 else "n/a",
        ),
    ]
    table("pass-through Python Transform: gst-python BaseTransform (anchor) vs framepipe", rows)


if __name__ == "__main__":
    main()
