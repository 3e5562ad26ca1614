"""Every example in examples/ runs (so the docs that show them cannot rot)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_quickstart(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.mp4").stat().st_size > 1000
