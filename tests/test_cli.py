"""The framepipe command line, run as real subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import framepipe as fp
import pytest

from .conftest import ROOT, reaped


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framepipe", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def count_frames(path: Path) -> int:
    with fp.Pipeline(
        f"filesrc location={path} ! qtdemux ! h264parse ! avdec_h264 ! appsink name=out sync=false"
    ) as p:
        return sum(1 for _ in p.frames("out", timeout=20))


def test_launch_runs_with_progress_line():
    r = cli("launch", "videotestsrc num-buffers=50 ! video/x-raw,width=64,height=48 ! fakesink")
    assert r.returncode == 0, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.split()[:2] == ["frames", "50"]
    assert "fps" in last and "/" in last


def test_launch_failure_is_one_line_naming_the_element():
    r = cli("launch", "filesrc name=reader location=/nonexistent.mp4 ! fakesink")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "reader" in lines[0] and "Traceback" not in r.stderr


def test_launch_failure_with_debug_shows_traceback():
    r = cli("--debug", "launch", "filesrc name=reader location=/nonexistent.mp4 ! fakesink")
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "reader" in r.stderr


def test_launch_unknown_element():
    r = cli("launch", "videotestsrc ! nosuchelement ! fakesink")
    assert r.returncode == 1
    assert "nosuchelement" in r.stderr and "ParseError" in r.stderr


def test_launch_ctrl_c_sends_eos_and_finalises_mp4(tmp_path):
    out = tmp_path / "live.mp4"
    live = (
        "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 ! videoconvert ! "
        f"video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast ! mp4mux ! filesink location={out}"
    )
    cmd = [sys.executable, "-m", "framepipe", "launch", live]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    with reaped(proc):
        time.sleep(2.5)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    # The EOS drained and the file was finalised: a clean finish, exit status 0.
    assert proc.returncode == 0, err
    assert "sending EOS" in err
    assert count_frames(out) >= 30  # moov written: the file is playable


def test_inspect_lists_and_describes():
    r = cli("inspect")
    assert r.returncode == 0
    assert "videotestsrc" in r.stdout and "appsink" in r.stdout
    r = cli("inspect", "videotestsrc")
    assert r.returncode == 0
    assert "Video test source" in r.stdout and "pattern" in r.stdout and "SRC template" in r.stdout
    r = cli("inspect", "nosuchelement")
    assert r.returncode == 1 and "nosuchelement" in r.stderr


def test_plugin_path_holds_the_plugin():
    r = cli("plugin-path")
    assert r.returncode == 0
    path = Path(r.stdout.strip())
    assert (path / "libgstframepipe.so").exists()


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "framepipe"
    r = subprocess.run([script, "plugin-path"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0


def test_demo_writes_a_playable_mp4(tmp_path):
    out = tmp_path / "demo.mp4"
    cmd = [
        sys.executable,
        "examples/demo.py",
        *"--frames 40 --width 160 --height 96".split(),
        "--output",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "frames: 40" in r.stdout and str(out) in r.stdout
    assert count_frames(out) == 40


def test_cli_demo_command(tmp_path):
    out = tmp_path / "demo.mp4"
    r = cli("demo", "--frames", "10", "--width", "64", "--height", "48", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert count_frames(out) == 10


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("ffprobe") is None, reason="needs make and ffprobe"
)
def test_make_demo_prints_no_critical_and_writes_yuv420p(tmp_path):
    # A fresh registry, so GStreamer scans every plugin (Debian's gst-python loader too) as
    # on a new machine.
    env = {**os.environ, "GST_REGISTRY": str(tmp_path / "registry.bin")}
    r = subprocess.run(["make", "-s", "demo"], capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CRITICAL" not in r.stdout + r.stderr, r.stdout + r.stderr
    demo_mp4 = str(ROOT / "out" / "demo.mp4")
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=pix_fmt", "-of", "csv=p=0", demo_mp4],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert probe.stdout.strip() == "yuv420p"
    assert "boxes: 300" in r.stdout
