"""Runs framepipe's cargo-fuzz targets (``fuzz/``) under libFuzzer on stable Rust.

cargo-fuzz's default build needs nightly (``-Zsanitizer=address``). Without a sanitizer,
the flags it gives rustc are all stable: this builds the targets with them directly
(``cargo build --release --target <host>``, so build scripts and proc macros stay
uninstrumented, as cargo-fuzz does), then runs each target for its share of the time,
with the seed corpus ``fuzz/corpus/<target>`` read-only and the grown corpus and any
crashing inputs under ``--out``. Prints executions and findings per target; exits 1 on a
finding.

``cargo fuzz run -s none <target>`` (with cargo-fuzz installed) runs the same binaries.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
TARGETS = ("h264_nal", "caps_layout", "metadata", "filter_string")

# The coverage flags cargo-fuzz passes (cargo-fuzz 0.12, sanitizer "none"): all stable.
RUSTFLAGS = " ".join(
    [
        "--cfg fuzzing",
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "-Cdebug-assertions",
        "-Coverflow-checks",
    ]
)


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"^host: (\S+)", out, re.M)
    if match is None:
        raise RuntimeError("rustc -vV printed no host triple")
    return match.group(1)


def build(triple: str) -> Path:
    env = dict(os.environ, RUSTFLAGS=RUSTFLAGS)
    cmd = [
        "cargo",
        "build",
        "--release",
        "--bins",
        "--manifest-path",
        str(FUZZ / "Cargo.toml"),
        "--target",
        triple,
    ]
    print("+", f"RUSTFLAGS='{RUSTFLAGS}'", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)
    return FUZZ / "target" / triple / "release"


def run_target(binary: Path, name: str, seconds: int, out: Path) -> tuple[int, int, float]:
    corpus = out / "corpus" / name
    artifacts = out / "artifacts" / name
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(binary),
        f"-max_total_time={seconds}",
        "-timeout=5",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
        str(FUZZ / "corpus" / name),
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    elapsed = time.monotonic() - start
    log = proc.stderr
    (out / f"{name}.log").write_text(log)
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    findings = len(list(artifacts.iterdir()))
    if proc.returncode != 0 and findings == 0:
        findings = 1  # a crash libFuzzer could not save still counts
    return int(execs[-1]) if execs else 0, findings, elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=300, help="total time, shared by the targets")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fuzz" / "cargo")
    ap.add_argument("targets", nargs="*", default=list(TARGETS))
    args = ap.parse_args()
    binaries = build(host_triple())
    args.out.mkdir(parents=True, exist_ok=True)
    share = max(1, args.seconds // len(args.targets))
    rows = []
    for name in args.targets:
        execs, findings, elapsed = run_target(binaries / name, name, share, args.out)
        rows.append((name, execs, findings, elapsed))
        print(f"{name:14s} {execs:>10d} executions  {findings} findings  {elapsed:6.1f} s", flush=True)
    total = sum(r[1] for r in rows)
    found = sum(r[2] for r in rows)
    print(f"cargo-fuzz targets: {total} executions, {found} findings (artifacts in {args.out}/artifacts)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
