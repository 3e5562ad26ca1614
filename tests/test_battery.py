"""A short seeded slice of the reliability battery (`make soak`, `make fuzz` run it in full).

Each script runs in its own interpreter and reports through its exit status.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

BATTERY = ROOT / "tests" / "battery"


def battery(*args: str, timeout: float) -> str:
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_soak_slice_leaks_nothing():
    out = battery(str(BATTERY / "soak.py"), "--scale", "0.02", timeout=300)
    assert out.count(" ok") == 4, out


def test_fuzz_slice_finds_only_typed_errors():
    out = battery(
        str(BATTERY / "fuzz_media.py"), "--seed", "7", "--max-inputs", "20", "--batch", "10", timeout=300
    )
    assert "findings (crash, hang > 5 s, untyped error): 0" in out, out


def test_shutdown_stress_slice():
    out = battery(str(BATTERY / "stress.py"), "shutdown", "--cycles", "20", "--exits", "2", timeout=300)
    assert "hangs=0" in out and "2/2 clean" in out, out


def test_concurrency_slice():
    out = battery(str(BATTERY / "stress.py"), "concurrency", "--seconds", "5", timeout=120)
    assert "errors=0" in out, out
