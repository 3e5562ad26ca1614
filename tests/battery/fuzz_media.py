"""Seeded mutation fuzzing of real clips through ``fp.open``/``imread``/``improps``.

Clips (MP4, MKV, WebM, TS, AVI) are encoded once with framepipe's writer, then mutated
(bit flips, truncation, splices of two clips) with a seeded RNG. Each batch of inputs runs
in a fresh interpreter with a timeout of 5 s per input, so a crash or a hang is caught and
blamed on its input (the batch is re-run one input at a time). The only acceptable outcomes
are success or a typed error: framepipe's own errors, ValueError, OSError, IndexError.

    python tests/battery/fuzz_media.py --seconds 600 --seed 1 [--out DIR]

Prints executions and findings; exits 1 when an input crashed, hung or raised an untyped
error (the inputs are kept in DIR/findings).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_INPUT_TIMEOUT = 5.0
CONTAINERS = ("mp4", "mkv", "webm", "ts", "avi")
CODEC = {"mp4": "h264", "mkv": "h264", "webm": "vp8", "ts": "h264", "avi": "mjpeg"}

# Runs in the child: one JSON line per input.
CHILD = r"""
import json, sys, time
import framepipe as fp
TYPED = (fp.errors.FramepipeError, ValueError, OSError, IndexError, TimeoutError)
for path in sys.argv[1:]:
    t = time.monotonic()
    outcome = "ok"
    try:
        props = fp.improps(path)
        with fp.open(path) as f:
            n = 0
            for _ in f.iter():
                n += 1
                if n >= 30:
                    break
        fp.imread(path, index=0)
    except TYPED as e:
        outcome = "typed:" + type(e).__name__
    except BaseException as e:
        outcome = "untyped:" + type(e).__name__ + ":" + str(e)[:200]
    print(json.dumps({"path": path, "outcome": outcome, "seconds": time.monotonic() - t}), flush=True)
"""


def make_clips(directory: Path) -> list[Path]:
    import framepipe as fp
    import numpy as np

    rng = np.random.default_rng(0)
    clips = []
    for ext in CONTAINERS:
        path = directory / f"clip.{ext}"
        frames = rng.integers(0, 255, (12, 48, 64, 3), dtype=np.uint8)
        frames[:, 8:24, 8:40] = 200  # some structure for the encoder
        with fp.open(path, "w") as f:
            f.write(frames, codec=CODEC[ext], fps=12)
        clips.append(path)
    return clips


def mutate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    kind = rng.choice(("flip", "flip", "truncate", "splice", "zero", "dup"))
    b = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[: rng.randrange(len(b))]
    elif kind == "splice":
        cut, at = rng.randrange(len(b)), rng.randrange(len(other))
        b = b[:cut] + bytearray(other[at:])
    elif kind == "zero":
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 4096)] = bytes(min(len(b) - i, 4096))
    else:
        i, n = rng.randrange(len(b)), rng.randint(1, 2048)
        b = b[:i] + b[i : i + n] + b[i:]
    return bytes(b)


def run_batch(paths: list[Path]) -> tuple[list[dict[str, object]], bool]:
    """Outcomes of a batch; the bool says whether the child died or hung."""
    timeout = PER_INPUT_TIMEOUT * len(paths) + 5
    try:
        r = subprocess.run(
            [sys.executable, "-c", CHILD, *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "G_DEBUG": "fatal-criticals"},
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")], True
    results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return results, r.returncode != 0 or len(results) != len(paths)


def check_alone(path: Path) -> str:
    """Return what one input does on its own: ok/typed, or crash/hang/untyped."""
    results, died = run_batch([path])
    if died and not results:
        return "crash-or-hang"
    if results and float(results[0]["seconds"]) > PER_INPUT_TIMEOUT:  # type: ignore[arg-type]
        return "slow"
    return str(results[0]["outcome"]) if results else "crash-or-hang"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--max-inputs", type=int, default=0, help="stop after this many inputs (0: by time)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fpfuzz-"))
    out = args.out or work
    findings_dir = out / "findings"
    findings_dir.mkdir(parents=True, exist_ok=True)
    clips = make_clips(work)
    originals = [c.read_bytes() for c in clips]
    rng = random.Random(args.seed)
    execs, typed, ok, findings = 0, 0, 0, []
    kinds: dict[str, int] = {}
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < args.seconds and (not args.max_inputs or execs < args.max_inputs):
        batch = []
        for _ in range(args.batch):
            k = rng.randrange(len(clips))
            data = mutate(rng, originals[k], originals[rng.randrange(len(clips))])
            path = work / f"in{n:06d}{clips[k].suffix}"
            n += 1
            path.write_bytes(data)
            batch.append(path)
        results, died = run_batch(batch)
        bad: list[tuple[Path, str]] = []
        if died:
            for p in batch:
                outcome = check_alone(p)
                if outcome.startswith(("crash", "untyped", "slow")):
                    bad.append((p, outcome))
        for res in results:
            outcome = str(res["outcome"])
            if outcome.startswith("untyped") or float(res["seconds"]) > PER_INPUT_TIMEOUT:  # type: ignore[arg-type]
                bad.append((Path(str(res["path"])), outcome))
            elif outcome == "ok":
                ok += 1
            else:
                typed += 1
                kinds[outcome] = kinds.get(outcome, 0) + 1
        for p, outcome in bad:
            shutil.copy(p, findings_dir / p.name)
            findings.append((p.name, outcome))
        execs += len(batch)
        for p in batch:
            p.unlink(missing_ok=True)
    elapsed = time.monotonic() - t0
    print(f"fuzz_media: seed {args.seed}, {execs} inputs in {elapsed:.0f} s ({execs / elapsed:.1f}/s)")
    print(f"  decoded fine: {ok}; typed errors: {typed} {dict(sorted(kinds.items()))}")
    print(f"  findings (crash, hang > {PER_INPUT_TIMEOUT:.0f} s, untyped error): {len(findings)}")
    for name, outcome in findings:
        print(f"    {findings_dir / name}: {outcome}")
    if not args.out and not findings:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
