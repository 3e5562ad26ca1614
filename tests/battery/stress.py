"""Shutdown stress and concurrency.

``shutdown``: start/stop/error cycles of pipelines with a Python Source, Transform and Sink
and a pyfunc, errors injected at random points (create, transform, render, pyfunc, or a
stop at a random moment), each cycle in the same interpreter; then interpreters that exit
with pipelines playing. Counts hangs (a cycle over 20 s) and crashes (a child that dies).

``concurrency``: 8 threads reading different files, one thread pushing into a pipeline, one
pulling from it, and a SIGALRM handler touching the same objects, for --seconds; checks
every frame read and pulled.

    python tests/battery/stress.py shutdown --cycles 1000 --seed 1
    python tests/battery/stress.py concurrency --seconds 60

Each mode runs in a child interpreter with a timeout, so a deadlock is reported, not hit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time

SHUTDOWN = r"""
import os, random, signal, sys, time, threading
import numpy as np
import framepipe as fp

rng = random.Random(int(sys.argv[1]))
cycles = int(sys.argv[2])
fail_at = {"where": None}

class Boom(Exception):
    pass

def maybe(where):
    if fail_at["where"] == where and rng.random() < 0.3:
        raise Boom(where)

@fp.element("pystresssrc")
class Src(fp.Source):
    caps = "video/x-raw,format=GRAY8,width=16,height=16,framerate=200/1"
    def start(self):
        self.n = 0
    def create(self):
        maybe("create")
        self.n += 1
        if self.n > 40:
            return None
        return np.full((16, 16), self.n % 255, np.uint8)

@fp.element("pystresstransform")
class T(fp.Transform):
    caps = "video/x-raw,format=GRAY8"
    def transform_ip(self, frame):
        maybe("transform")
        frame.array[0, 0] = 1

@fp.element("pystresssink")
class S(fp.Sink):
    def render(self, frame):
        maybe("render")

import tempfile
mod = os.path.join(tempfile.mkdtemp(prefix="fpstress-"), "stress_pyfunc.py")
with open(mod, "w") as f:
    f.write("import __main__\ndef process_frame(frame):\n    __main__.maybe('pyfunc')\n")

hangs = errors = clean = stopped = 0
for i in range(cycles):
    fail_at["where"] = rng.choice([None, "create", "transform", "render", "pyfunc", "stop"])
    p = fp.Pipeline(
        f"pystresssrc ! pystresstransform ! pyfunc module={mod} ! tee name=t "
        "t. ! queue ! pystresssink t. ! queue ! appsink name=out sync=false"
    )
    t0 = time.monotonic()
    try:
        if fail_at["where"] == "stop":
            p.play()
            time.sleep(rng.random() * 0.05)
            p.stop()
            stopped += 1
        else:
            with p:
                for _ in p.frames("out", timeout=20):
                    pass
            clean += 1
    except fp.PipelineError:
        errors += 1
    except TimeoutError:
        hangs += 1
    finally:
        p.stop()
    if time.monotonic() - t0 > 20:
        hangs += 1
    assert p.state == "NULL", p.state
print(f"cycles={cycles} clean={clean} errors={errors} stopped={stopped} hangs={hangs}", flush=True)
sys.exit(1 if hangs else 0)
"""

EXIT_PLAYING = r"""
import numpy as np
import framepipe as fp

@fp.element("pyexitsrc")
class Src(fp.Source):
    caps = "video/x-raw,format=GRAY8,width=16,height=16,framerate=30/1"
    def create(self):
        return np.zeros((16, 16), np.uint8)

@fp.element("pyexittransform")
class T(fp.Transform):
    caps = "video/x-raw,format=GRAY8"
    def transform_ip(self, frame):
        frame.array[0, 0] = 1

pipes = [fp.Pipeline("pyexitsrc ! pyexittransform ! appsink name=out"),
         fp.Pipeline("videotestsrc is-live=true ! video/x-raw,format=GRAY8 ! pyexittransform ! fakesink")]
for p in pipes:
    p.play()
pipes[0].pull("out", timeout=10)
print("exiting while playing", flush=True)
"""

CONCURRENCY = r"""
import signal, sys, tempfile, threading, time
from pathlib import Path
import numpy as np
import framepipe as fp

seconds = float(sys.argv[1])
work = Path(tempfile.mkdtemp(prefix="fpconc-"))
files = []
for k in range(8):
    path = work / f"f{k}.mp4"
    with fp.open(path, "w") as f:
        f.write(np.full((12, 32, 48, 3), 20 * k + 10, np.uint8), fps=12)
    files.append(path)

stop = time.monotonic() + seconds
errors = []
counts = {"read": 0, "pushed": 0, "pulled": 0, "signals": 0}
lock = threading.Lock()

def reader(k):
    try:
        while time.monotonic() < stop:
            with fp.open(files[k]) as f:
                for a in f.iter():
                    # Each file is one grey level; coding moves it by a few levels only.
                    if abs(float(a.mean()) - (20 * k + 10)) > 6:
                        errors.append(f"file {k}: level {a.mean()}")
                    with lock:
                        counts["read"] += 1
    except BaseException as e:
        errors.append(f"reader {k}: {e!r}")

p = fp.Pipeline("appsrc name=src ! queue ! appsink name=out sync=false")

def pusher():
    try:
        i = 0
        while time.monotonic() < stop:
            p.push("src", np.full((24, 32, 3), i % 256, np.uint8), fps=1000)
            i += 1
            with lock:
                counts["pushed"] += 1
        p.end_of_stream("src")
    except BaseException as e:
        errors.append(f"pusher: {e!r}")

def puller():
    try:
        expect = 0
        while (f := p.pull("out", timeout=30)) is not None:
            if int(f.array[0, 0, 0]) != expect % 256:
                errors.append(f"pulled {f.array[0, 0, 0]} expected {expect % 256}")
            expect += 1
            with lock:
                counts["pulled"] += 1
    except BaseException as e:
        errors.append(f"puller: {e!r}")

def on_alarm(signum, frame):
    # Touch the very objects the threads use, from the signal handler.
    counts["signals"] += 1
    p.state, p.position, p.duration, p.graph()
    with fp.open(files[counts["signals"] % 8]) as f:
        len(f.read(index=0))

signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.25, 0.25)
threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
threads += [threading.Thread(target=pusher), threading.Thread(target=puller)]
for t in threads:
    t.start()
for t in threads:
    t.join()
signal.setitimer(signal.ITIMER_REAL, 0, 0)
p.stop()
print(f"seconds={seconds:.0f} read={counts['read']} pushed={counts['pushed']} pulled={counts['pulled']} "
      f"signals={counts['signals']} errors={len(errors)}", flush=True)
for e in errors[:10]:
    print("  ", e)
sys.exit(1 if errors or counts["pushed"] != counts["pulled"] else 0)
"""


def child(code: str, args: list[str], timeout: float) -> tuple[int, str]:
    env = {**os.environ, "G_DEBUG": "fatal-criticals"}
    try:
        r = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return -1000, f"HANG: no exit within {timeout:.0f} s"
    return r.returncode, (r.stdout + r.stderr).strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("shutdown", "concurrency"))
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--exits", type=int, default=20, help="interpreters exiting with pipelines playing")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.monotonic()
    if args.mode == "shutdown":
        rc, out = child(SHUTDOWN, [str(args.seed), str(args.cycles)], timeout=30 + args.cycles * 2.0)
        print(f"shutdown stress (seed {args.seed}): exit {rc} in {time.monotonic() - t0:.0f} s\n  {out}")
        bad = 0
        for _ in range(args.exits):
            code, text = child(EXIT_PLAYING, [], timeout=30)
            if code != 0:
                bad += 1
                print(f"  exit while playing: exit {code}: {text[-500:]}")
        print(f"interpreter exit with pipelines playing: {args.exits - bad}/{args.exits} clean")
        return 0 if rc == 0 and bad == 0 else 1
    rc, out = child(CONCURRENCY, [str(args.seconds)], timeout=args.seconds + 60)
    print(f"concurrency: exit {rc} in {time.monotonic() - t0:.0f} s\n  {out}")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
