"""Stopping a pipeline interrupts a Python element's slow call instead of waiting for it, and a Source's/Sink's stop() never runs while its create()/render() is still running.

Each case runs in its own interpreter with a timeout: before the fix, stop() waited for the
whole 60 s call, so a hang fails the test. The slow calls are Python loops (an
asynchronous exception ends them at the next bytecode; a single C call such as one long
time.sleep cannot be interrupted, and stop() then returns after a bounded wait while
the element's stop() runs once the call returns).
"""

from __future__ import annotations

import pytest

from .conftest import printed_values

pytestmark = pytest.mark.slow

COMMON = """
import time
import framepipe as fp

def slow(seconds=60.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)

def stop_timed(p):
    t = time.perf_counter()
    p.stop()
    return time.perf_counter() - t
"""


def run(py_run, body: str) -> dict[str, str]:
    return printed_values(py_run(COMMON + body, timeout=40))


def test_stopping_interrupts_a_slow_transform(py_run):
    out = run(
        py_run,
        """
@fp.element("pyrelslowtransform")
class Slow(fp.Transform):
    def transform_ip(self, frame):
        print("inside=1", flush=True)
        slow()

p = fp.Pipeline("videotestsrc ! pyrelslowtransform ! fakesink")
p.play()
time.sleep(1.0)
print("stopped_in=%.3f" % stop_timed(p), "state=" + p.state, flush=True)
""",
    )
    assert out["inside"] == "1" and out["state"] == "NULL"
    print("transform stop took", out["stopped_in"], "s")


# A Source (create) or Sink (render) whose slow call must end before its stop() runs.
SLOW_BASE = """
@fp.element("{name}")
class Slow(fp.{base}):
    caps = "video/x-raw,format=GRAY8,width=8,height=8,framerate=30/1"
    busy = False
    overlap = None

    def {method}(self, *args):
        type(self).busy = True
        try:
            slow()
        finally:
            type(self).busy = False

    def stop(self):
        type(self).overlap = type(self).busy

p = fp.Pipeline("{launch}")
p.play()
time.sleep(1.0)
print("stopped_in=%.3f" % stop_timed(p), flush=True)
time.sleep(1.0)
print("overlap=%s" % Slow.overlap, flush=True)
"""


@pytest.mark.parametrize(
    ("base", "method", "launch"),
    [("Source", "create", "pyrelslowsrc ! fakesink"), ("Sink", "render", "videotestsrc ! pyrelslowsink")],
    ids=["source-create", "sink-render"],
)
def test_stopping_interrupts_a_slow_call_and_runs_stop_after_it(py_run, base, method, launch):
    name = launch.split()[0] if base == "Source" else launch.split()[-1]
    out = run(py_run, SLOW_BASE.format(name=name, base=base, method=method, launch=launch))
    assert out["overlap"] == "False"


def test_a_stopped_pipeline_with_python_elements_plays_again(py_run):
    out = run(
        py_run,
        """
@fp.element("pyrelcount")
class Count(fp.Transform):
    n = 0
    def transform_ip(self, frame):
        type(self).n += 1

p = fp.Pipeline("videotestsrc num-buffers=5 ! pyrelcount ! fakesink")
p.run(timeout=20)
p.run(timeout=20)
print("n=%d" % Count.n, flush=True)
""",
    )
    assert out["n"] == "10"


def test_stopping_interrupts_a_slow_pyfunc(py_run, tmp_path):
    (tmp_path / "slowfn.py").write_text(
        "import time\n\ndef process_frame(frame):\n"
        "    end = time.monotonic() + 60\n"
        "    while time.monotonic() < end:\n"
        "        time.sleep(0.01)\n"
    )
    out = run(
        py_run,
        f"""
p = fp.Pipeline("videotestsrc ! pyfunc module={tmp_path / "slowfn.py"} ! fakesink")
p.play()
time.sleep(1.0)
print("stopped_in=%.3f" % stop_timed(p), "state=" + p.state, flush=True)
print("errors=%d" % sum(m.type == "error" for m in p.messages()), flush=True)
""",
    )
    assert out["state"] == "NULL" and out["errors"] == "0"


def test_stopping_interrupts_a_slow_probe_callback(py_run):
    # Before: stop() waited for the whole 60 s callback (pad deactivation waits for the
    # streaming thread), so the 40 s subprocess timeout failed the test.
    out = run(
        py_run,
        """
calls = []

def probe(frame):
    calls.append(1)
    print("inside=1", flush=True)
    slow()

p = fp.Pipeline("videotestsrc ! identity name=i ! fakesink")
p.add_probe("i.src", probe)
p.play()
time.sleep(1.0)
print("stopped_in=%.3f" % stop_timed(p), "state=" + p.state, flush=True)
print("errors=%d" % sum(m.type == "error" for m in p.messages()), flush=True)
""",
    )
    assert out["inside"] == "1" and out["state"] == "NULL" and out["errors"] == "0"
    print("probe stop took", out["stopped_in"], "s")


def test_a_stopped_pipeline_with_a_probe_calls_it_again(py_run):
    out = run(
        py_run,
        """
n = []
p = fp.Pipeline("videotestsrc num-buffers=4 ! identity name=i ! fakesink")
p.add_probe("i.src", lambda f: n.append(1))
p.run(timeout=20)
p.play()
time.sleep(0.2)
p.stop()
p.run(timeout=20)
print("n=%d" % len(n), flush=True)
""",
    )
    # 4 + up to 4 (stopped early) + 4: the probe runs again after a stop.
    assert 8 <= int(out["n"]) <= 12
