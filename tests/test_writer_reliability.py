"""The video writer never deadlocks with Python and never loses its file.

Each case runs in its own interpreter with a timeout, so a hang fails one test only. The
writer's filter is a ``pyfunc`` that sleeps, so its streaming thread needs the GIL while the
writer is closing or pushing.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from .conftest import read_line, reaped, run_python, start_python

pytestmark = pytest.mark.slow

SLOW_FILTER = """
import time

def process_frame(frame):
    time.sleep({delay})
    return True
"""


def slow_filter(tmp_path: Path, delay: float) -> str:
    path = tmp_path / "slow.py"
    path.write_text(SLOW_FILTER.format(delay=delay))
    return f"pyfunc module={path}"


def frame_count(path: Path) -> int:
    import framepipe as fp

    return int(fp.imread(path).shape[0])


def test_collecting_a_writer_with_a_python_filter_finishes_its_file(tmp_path):
    out = tmp_path / "gc.mp4"
    r = run_python(
        f"""
        import gc
        import numpy as np
        import framepipe as fp
        f = fp.open({str(out)!r}, "w")
        f.write(np.zeros((12, 64, 64, 3), np.uint8), filter={slow_filter(tmp_path, 0.05)!r})
        del f
        gc.collect()
        print("collected", flush=True)
        """,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "collected" in r.stdout
    assert frame_count(out) == 12


def test_frames_written_while_another_thread_writes_does_not_deadlock(tmp_path):
    out = tmp_path / "threads.mp4"
    r = run_python(
        f"""
        import threading
        import numpy as np
        from framepipe import _framepipe
        w = _framepipe._VideoWriter({str(out)!r}, filter={slow_filter(tmp_path, 0.03)!r})
        frame = np.zeros((48, 64, 3), np.uint8)

        def writer():
            for _ in range(30):
                w.write(frame)

        t = threading.Thread(target=writer)
        t.start()
        seen = 0
        while t.is_alive():
            seen = max(seen, w.frames_written)
        t.join()
        w.close()
        print("done", w.frames_written, seen, flush=True)
        """,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "done" in r.stdout
    assert frame_count(out) == 30


CLOSE_SCRIPT = """
import time
import numpy as np
from framepipe import _framepipe
w = _framepipe._VideoWriter({out!r}, filter={filter!r})
rng = np.random.default_rng(0)
for i in range({n}):
    w.write(rng.integers(0, 255, (240, 320, 3), np.uint8))
print("closing", flush=True)
try:
    w.close()
    print("closed", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def close_with_sigint(tmp_path: Path, out: Path, signals: int) -> str:
    script = CLOSE_SCRIPT.format(out=str(out), filter=slow_filter(tmp_path, 0.25), n=20)
    with reaped(start_python(script)) as proc:
        assert read_line(proc) == "closing"
        for _ in range(signals):
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stdout.strip()


def test_ctrl_c_during_close_still_finishes_the_file(tmp_path):
    out = tmp_path / "sigint.mp4"
    assert close_with_sigint(tmp_path, out, signals=1) == "interrupted"
    assert frame_count(out) == 20


def test_a_second_ctrl_c_during_close_abandons_the_file(tmp_path):
    out = tmp_path / "abandoned.mp4"
    assert close_with_sigint(tmp_path, out, signals=2) == "interrupted"
