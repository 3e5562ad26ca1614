"""What framepipe keeps alive: probe callbacks that capture their pipeline are collectable, and streaming threads give their Python thread states back when they exit."""

from __future__ import annotations

import gc
import weakref

import framepipe as fp
import pytest


def test_a_probe_capturing_its_pipeline_is_collected():
    p = fp.Pipeline("videotestsrc num-buffers=3 ! identity name=i ! appsink name=out")
    seen = []
    # The default argument holds the pipeline (a closure cell would be emptied by `del p`):
    # pipeline -> element -> pad -> probe -> callback -> pipeline, through GStreamer.
    p.add_probe("i.src", lambda frame, p=p: seen.append(p.state))
    with p:
        assert len(list(p.frames("out", timeout=10))) == 3
    assert len(seen) == 3
    ref = weakref.ref(p)
    del p
    gc.collect()
    assert ref() is None


def test_a_removed_probe_no_longer_keeps_its_callback():
    p = fp.Pipeline("videotestsrc num-buffers=1 ! identity name=i ! fakesink")

    class Callback:
        def __call__(self, frame):
            return True

    cb = Callback()
    ref = weakref.ref(cb)
    pid = p.add_probe("i.src", cb)
    del cb
    assert ref() is not None
    p.remove_probe(pid)
    gc.collect()
    assert ref() is None


THREAD_STATES = """
import ctypes, threading, time
import framepipe as fp

api = ctypes.pythonapi
api.PyInterpreterState_Get.restype = ctypes.c_void_p
api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
api.PyThreadState_Next.restype = ctypes.c_void_p
api.PyThreadState_Next.argtypes = [ctypes.c_void_p]

def thread_states():
    n, t = 0, api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
    while t:
        n, t = n + 1, api.PyThreadState_Next(t)
    return n

@fp.element("pylifetransform")
class T(fp.Transform):
    caps = "video/x-raw,format=GRAY8"
    def transform_ip(self, frame):
        frame.array[0, 0] = 1

before = thread_states()
for round in range(3):
    pipes = [fp.Pipeline("videotestsrc num-buffers=5 ! video/x-raw,format=GRAY8,width=8,height=8 "
                         "! queue ! pylifetransform ! queue ! fakesink") for _ in range(10)]
    for p in pipes:
        p.play()
    for p in pipes:
        p.wait(timeout=20)
        p.stop()
    del pipes
time.sleep(20)  # GLib ends idle pool threads after 15 s
print("thread states", before, thread_states(), flush=True)
"""


@pytest.mark.slow
def test_streaming_threads_free_their_python_thread_states(py_run):
    r = py_run(THREAD_STATES, timeout=90)
    assert r.returncode == 0, r.stderr
    before, after = map(int, r.stdout.split("thread states")[1].split())
    # Up to a few idle pool threads may stay parked; 3 x 10 pipelines x 3 threads would not.
    assert after - before <= 8, r.stdout
