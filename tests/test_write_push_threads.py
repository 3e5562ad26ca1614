"""Writing and pushing arrays that other threads change.

Issue 12, "Lost data and corruption": ``VideoWriter.write`` copies the array with the GIL held before it releases
it, so a thread that resizes (frees) or refills the array meanwhile cannot make it read
freed memory; ``Pipeline.push`` before PLAYING neither deadlocks a pipeline that needs
several buffers to preroll nor lets the appsrc queue grow past its limit once playing.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_write_while_another_thread_resizes_and_refills_the_array(py_run, tmp_path):
    # numpy's resize(refcheck=False) frees the old data: reading it with the GIL released
    # would read freed memory (garbage frames or a crash). Every frame written must be one
    # the other thread made: uniform 0 (just regrown) or 128 (refilled).
    out = tmp_path / "out.mp4"
    r = py_run(
        f"""
import threading
import numpy as np
import framepipe as fp
from framepipe import _framepipe

H, W = 48, 64
a = np.full((H, W, 3), 128, np.uint8)
stop = threading.Event()

def mutate():
    while not stop.is_set():
        a.resize((2, 2, 3), refcheck=False)
        a.resize((H, W, 3), refcheck=False)
        a[...] = 128

t = threading.Thread(target=mutate)
t.start()
w = _framepipe._VideoWriter({str(out)!r})
written = refused = 0
for _ in range(150):
    try:
        w.write(a)
        written += 1
    except ValueError:
        refused += 1  # caught at 2x2: a frame of another shape
stop.set()
t.join()
w.close()
frames = [f.copy() for f in fp.imiter({str(out)!r})]
means = sorted({{int(round(f.mean())) for f in frames}})
spread = max(int(f.max()) - int(f.min()) for f in frames)
print("written=%d refused=%d decoded=%d" % (written, refused, len(frames)), flush=True)
print("means=" + ",".join(map(str, means)), "spread=%d" % spread, flush=True)
""",
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out_ = dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)
    assert int(out_["written"]) >= 1
    assert int(out_["written"]) + int(out_["refused"]) == 150
    assert int(out_["decoded"]) == int(out_["written"])
    # Encoded uniform frames: 0 or about 128 (a refill that numpy ran without the GIL may
    # be caught half done, which gives a frame between the two, never anything else).
    means = [int(m) for m in out_["means"].split(",")]
    assert all(0 <= m <= 134 for m in means), means


def test_push_before_playing_into_a_pipeline_that_prerolls_late(py_run):
    # x264enc outputs nothing before it has a few dozen frames, so the sink cannot preroll
    # (the pipeline cannot reach PLAYING) until they were pushed: push must not wait for
    # room before PLAYING, or this would deadlock.
    r = py_run(
        """
import numpy as np
import framepipe as fp
frame = np.zeros((32, 32, 3), np.uint8)
p = fp.Pipeline("appsrc name=src max-bytes=%d ! videoconvert ! x264enc ! fakesink" % (2 * frame.nbytes))
for k in range(80):
    frame[...] = k
    p.push("src", frame)
p.end_of_stream("src")
p.run(timeout=60)
print("ok=1", flush=True)
""",
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok=1" in r.stdout


def test_push_once_playing_keeps_the_appsrc_queue_bounded(py_run):
    r = py_run(
        """
import time
import numpy as np
import framepipe as fp

@fp.element("pypushslowsink")
class Slow(fp.Sink):
    def render(self, frame):
        time.sleep(0.01)

frame = np.zeros((32, 32, 3), np.uint8)
limit = 2 * frame.nbytes
p = fp.Pipeline("appsrc name=src max-bytes=%d ! pypushslowsink" % limit)
src = p.element("src")
# Before PLAYING (prerolling) push does not wait for room: the previous test's pipeline
# needs more frames than max-bytes before its sink can preroll. Once playing it does.
p.push("src", frame)
end = time.monotonic() + 20
while p.state != "PLAYING" and time.monotonic() < end:
    time.sleep(0.01)
levels = []
for k in range(60):
    p.push("src", frame)
    levels.append(src.get("current-level-bytes"))
p.end_of_stream("src")
p.run(timeout=60)
print("playing_pushes=%d" % len(levels), "max_level=%d" % max(levels or [0]), "limit=%d" % limit, flush=True)
""",
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)
    assert int(out["playing_pushes"]) > 0
    # push waits for room below max-bytes, then queues one more frame.
    assert int(out["max_level"]) <= int(out["limit"]) + 32 * 32 * 3
