"""Every example in examples/ runs, headless (so the docs that show them cannot rot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, ffprobe_stream

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# Shorter runs of the longer examples, to keep `make test` quick.
ARGS = {"demo.py": ["--frames", "60"], "detect.py": ["--frames", "30"]}


def run_example(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Headless: no display for autovideosink to find.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, str(path), *ARGS.get(path.name, [])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def test_examples_are_found():
    names = {p.name for p in EXAMPLES}
    assert {
        "quickstart.py",
        "analytics.py",
        "detector.py",
        "pyinvert.py",
        "video_files.py",
        "demo.py",
    } <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    r = run_example(path, tmp_path)
    assert r.returncode == 0, f"{path.name} exited with {r.returncode}:\n{r.stdout}\n{r.stderr}"
    # Every MP4 an example writes is H.264 4:2:0, which browsers and players accept.
    for mp4 in tmp_path.rglob("*.mp4"):
        stream = ffprobe_stream(mp4, "codec_name,pix_fmt,profile")
        assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p", (mp4.name, stream)


def test_quickstart_writes_a_playable_mp4(tmp_path):
    r = run_example(ROOT / "examples" / "quickstart.py", tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out.mp4"
    assert out.stat().st_size > 1000
    stream = ffprobe_stream(out, "codec_name,pix_fmt,profile")
    assert stream["pix_fmt"] == "yuv420p" and "4:4:4" not in stream.get("profile", ""), stream
