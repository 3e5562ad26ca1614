"""Helpers shared by the benchmarks: repeated timing, anchors in Debian's Python, tables."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
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


def interleaved_medians(fns: dict[str, Callable[[], object]], repeat: int = 5) -> dict[str, float]:
    """Median wall time of each ``fn()``, the runs taking turns (one warm-up each first), so that a noisy spell on a shared machine falls on every contender rather than on one."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def fresh_process_times(script: str, names: list[str], repeat: int = 5) -> dict[str, list[float]]:
    """Wall times of each named contender, each run in a fresh ``python script --one NAME`` (which warms up, times one run and prints its seconds), taking turns.

    A fresh process gives every contender the same clean heap: allocation-heavy code (PyAV's fresh array
    per frame) is otherwise faster or slower depending on what ran before it.
    """
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            out = subprocess.run(
                [sys.executable, script, "--one", name],
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            ).stdout
            times[name].append(float(out.strip().splitlines()[-1]))
    return times


def rate_spread(n: int, times: list[float]) -> str:
    """``n`` items per run as a rate: the median, and the slowest and fastest runs."""
    return f"{n / statistics.median(times):.1f} ({n / max(times):.0f}-{n / min(times):.0f})"


def timed_once(fn: Callable[[], object]) -> float:
    """One warm-up run, then the wall time of one more (for ``--one``)."""
    fn()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


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
