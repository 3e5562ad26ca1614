"""Helpers shared by the benchmarks: repeated timing, anchors in Debian's Python, tables."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import textwrap
import time
from collections.abc import Callable

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gst-1.0 (the gst-python anchor)


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def system_python(code: str, timeout: float = 600) -> dict[str, float]:
    """Run ``code`` under Debian's python3 (gst-python) and parse the JSON it prints last."""
    r = subprocess.run(
        [SYSTEM_PYTHON, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"anchor failed:\n{r.stderr}")
    result: dict[str, float] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def have(program: str) -> bool:
    return shutil.which(program) is not None


def table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    """Print rows of (what, anchor, framepipe, ratio) as a Markdown table."""
    header = ("what", "anchor", "framepipe", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"\n### {title}\n")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    print()
