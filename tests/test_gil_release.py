"""Blocking calls release the GIL.

Issue 12, "Hangs and deadlocks": ``Element.get/set``, ``position``, ``duration``,
``end_of_stream``, ``remove_probe``, ``graph()``, plugin loading in ``inspect``.

The deadlock they would cause: a streaming thread holds a GStreamer lock while its Python
code waits for the GIL, and the caller, holding the GIL, blocks on that lock. GstBaseSink
renders with its PREROLL_LOCK held, and a Python Sink's ``render()`` needs the GIL; setting
a sink's ``async`` property takes the same PREROLL_LOCK (``gst_base_sink_set_async_enabled``).
So ``Element.set("async", ...)`` during a slow Python render deadlocks unless ``set`` releases
the GIL: that case fails before the fix (the subprocess times out).

The other calls take no lock a Python callback can hold in GStreamer 1.22 (position and
duration queries and the dot dump take object locks only briefly, ``gst_pad_remove_probe``
does not wait for a probe in progress, appsrc's end of stream takes its queue lock only
briefly), so no test can deadlock them; each is still called here while a Python render is
in progress on a streaming thread, in a subprocess with a timeout, and the render must keep
running during the call.
"""

from __future__ import annotations

import pytest

from .conftest import printed_values

pytestmark = pytest.mark.slow

# A Python Sink whose render() spins in Python for `RENDER_SECONDS` (so it needs the GIL
# again and again while GstBaseSink holds its PREROLL_LOCK), and reports when it is inside.
COMMON = """
import sys, threading, time
import framepipe as fp

RENDER_SECONDS = 1.5
inside = threading.Event()
renders = []

@fp.element("pygilslowsink")
class SlowSink(fp.Sink):
    def render(self, frame):
        inside.set()
        end = time.monotonic() + RENDER_SECONDS
        n = 0
        while time.monotonic() < end:
            n += 1
        renders.append(n)

def slow_pipeline(extra=""):
    p = fp.Pipeline("videotestsrc num-buffers=2 ! video/x-raw,width=16,height=16 ! identity name=i "
                    + extra + "! pygilslowsink name=sink")
    p.play()
    assert inside.wait(20), "render() never started"
    return p
"""


def run(py_run, body: str) -> dict[str, str]:
    return printed_values(py_run(COMMON + body, timeout=60))


def test_element_set_releases_the_gil_while_the_sink_renders(py_run):
    out = run(
        py_run,
        """
p = slow_pipeline()
sink = p.element("sink")
sink.set("async", False)   # PREROLL_LOCK, held by the render that needs the GIL
print("async=%s" % sink.get("async"), flush=True)
p.stop()
print("renders=%d" % len(renders), flush=True)
""",
    )
    assert out["async"] == "False"
    assert int(out["renders"]) >= 1


@pytest.mark.parametrize(
    "call",
    [
        "p.element('sink').get('sync')",
        "p.element('i').set('silent', True)",
        "p.position",
        "p.duration",
        "p.graph()",
        "p.remove_probe(p.add_probe('i.src', lambda f: None))",
    ],
)
def test_blocking_calls_return_while_a_python_render_runs(py_run, call):
    out = run(
        py_run,
        f"""
p = slow_pipeline()
before = len(renders)
for _ in range(20):
    {call}
print("during=%d" % (len(renders) - before), flush=True)
p.stop()
print("ok=1", flush=True)
""",
    )
    assert out["ok"] == "1"


def test_end_of_stream_returns_while_a_python_render_runs(py_run):
    out = run(
        py_run,
        """
p = fp.Pipeline("appsrc name=src ! videoconvert ! pygilslowsink name=sink")
p.push("src", __import__("numpy").zeros((16, 16, 3), "uint8"))
p.push("src", __import__("numpy").zeros((16, 16, 3), "uint8"))
assert inside.wait(20)
p.end_of_stream("src")
p.run(timeout=30)
print("renders=%d" % len(renders), flush=True)
""",
    )
    assert out["renders"] == "2"


def test_plugin_loading_in_inspect_runs_while_a_python_render_runs(py_run, tmp_path):
    # Describing an element loads its plugin; framepipe's own (for Python elements) runs
    # Python on the loading thread. A Python render keeps running meanwhile.
    out = run(
        py_run,
        """
from framepipe import _framepipe
p = slow_pipeline()
names = [f[0] for f in _framepipe.factories()]
d = _framepipe.describe_factory("pygilslowsink")
e = _framepipe.describe_factory("x264enc")
p.stop()
print("found=%d" % ("pygilslowsink" in names), "props=%d" % (len(e["properties"]) > 0), flush=True)
""",
    )
    assert out["found"] == "1" and out["props"] == "1"
