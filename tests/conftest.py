"""Shared fixtures: media is made with videotestsrc/audiotestsrc or numpy, never fetched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A GLib CRITICAL is a bug: make it abort the test (and the subprocesses tests start, which
# inherit the environment). Set before GStreamer is first loaded.
os.environ.setdefault("G_DEBUG", "fatal-criticals")


def run_python(
    code: str, *, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (so a crash or hang fails one test only)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def start_python(code: str) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter, its stdout and stderr piped (use with ``reaped``)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
    )


@contextmanager
def reaped(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Kill ``proc`` on leaving the block if it still runs, so a failing test leaves no child."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def read_line(proc: subprocess.Popen[str]) -> str:
    """Return the next line the child prints (it flushes each one), stripped."""
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def printed_values(r: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Check that the child succeeded and return the ``key=value`` words it printed."""
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)


@pytest.fixture
def py_run():
    return run_python


def ffprobe_stream(path: Path, entries: str = "codec_name,pix_fmt,nb_read_frames") -> dict[str, str]:
    """Ffprobe's view of the first video stream (``entries``: its -show_entries names); frames are counted only when ``nb_read_frames`` is asked for."""
    count = ["-count_frames"] if "nb_read_frames" in entries else []
    args = ["-select_streams", "v:0", "-show_entries", f"stream={entries}", "-of", "json", str(path)]
    r = subprocess.run(
        ["ffprobe", "-v", "error", *count, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    stream: dict[str, str] = json.loads(r.stdout)["streams"][0]
    return stream
