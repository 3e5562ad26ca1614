"""Leaks: many map/unmap/wrap cycles keep RSS flat, and GStreamer's leaks tracer finds no buffer or memory alive once Python let go of them.

Both run in a fresh interpreter.
"""

from __future__ import annotations

import re

import pytest

from .conftest import run_python

CYCLES = """
import gc, os, sys
import numpy as np
import framepipe as fp

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def cycle(i):
    a = np.full(512, i & 255, np.uint8)
    b = fp.Buffer.wrap(a)
    with b.map(write=True) as m:
        m[0] = 1
        view = m.array
    with b.map() as m:
        memoryview(m).release()
    return view

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
for i in range(2_000):
    cycle(i)
gc.collect()
base = rss()
for i in range(N):
    cycle(i)
gc.collect()
print("growth", rss() - base)
"""

TRACER = """
import ctypes, gc
import numpy as np
import framepipe as fp

for i in range(200):
    b = fp.Buffer.wrap(np.zeros(64, np.uint8))
    with b.map(write=True) as m:
        view = m.array
    del view
    b.append_memory(fp.Memory.allocate(8).share(0, 4))
    with b.map() as m:
        pass
    c = b.copy()
    f = fp.Frame.from_array(np.zeros((2, 2), np.uint8))
    np.from_dlpack(f)
    f.__dlpack__()
with fp.Pipeline("appsrc name=src ! queue ! fakesink sync=false") as p:
    for i in range(20):
        p.push("src", fp.Buffer.wrap(np.zeros(16, np.uint8)))
    p.end_of_stream("src")
    p.run(timeout=10)
keep = fp.Buffer(7)  # a control: exactly this buffer must be reported alive
del b, m, c, f, p
gc.collect()
fp.Buffer(1)  # drain references dropped off the main thread

gst = ctypes.CDLL("libgstreamer-1.0.so.0")
gobject = ctypes.CDLL("libgobject-2.0.so.0")
gst.gst_tracing_get_active_tracers.restype = ctypes.c_void_p

class GList(ctypes.Structure):
    pass
GList._fields_ = [("data", ctypes.c_void_p), ("next", ctypes.POINTER(GList)), ("prev", ctypes.POINTER(GList))]

node = ctypes.cast(gst.gst_tracing_get_active_tracers(), ctypes.POINTER(GList))
found = 0
while node:
    gobject.g_signal_emit_by_name(ctypes.c_void_p(node.contents.data), b"log-live-objects")
    found += 1
    node = node.contents.next
print("tracers", found)
"""


@pytest.mark.slow
def test_map_wrap_cycles_do_not_grow_rss():
    r = run_python(CYCLES, timeout=120)
    assert r.returncode == 0, r.stderr
    growth = int(r.stdout.split()[-1])
    assert growth < 5 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB over 100k cycles"


def test_leaks_tracer_finds_no_buffer_or_memory_alive():
    r = run_python(
        TRACER,
        env={"GST_TRACERS": "leaks", "GST_DEBUG": "GST_TRACER:7", "GST_DEBUG_NO_COLOR": "1"},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "tracers 1" in r.stdout, r.stdout + r.stderr
    alive = re.findall(r"object-alive.*?type-name=\(string\)(\w+)", r.stderr)
    buffers = [t for t in alive if t == "GstBuffer"]
    memories = [t for t in alive if t == "GstMemory"]
    assert len(buffers) == 1, (alive, r.stderr[-3000:])  # only the control buffer
    assert len(memories) == 1, (alive, r.stderr[-3000:])  # and its memory
    assert "CRITICAL" not in r.stderr
