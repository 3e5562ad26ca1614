"""The ``framepipe`` command line: launch, inspect, info, plugin-path, demo, ray-read, ray-process."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import runpy
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from . import _framepipe
from .elements import load_modules
from .errors import FramepipeError, PipelineError
from .pipeline import Pipeline

PLUGIN_DIR = Path(__file__).resolve().parent / "gst-plugins"

DESCRIPTION = """\
GStreamer pipelines and video files from the command line.

  framepipe launch "videotestsrc num-buffers=60 ! videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux ! filesink location=out.mp4"
  framepipe inspect [element]
  framepipe info clip.mp4
"""

LAUNCH_EPILOG = """\
Ctrl-C sends EOS so that muxers finalise their files; the exit status is 0 when the
pipeline then finishes cleanly, 130 when it does not within 5 s or on a second Ctrl-C
(which stops at once). Errors exit with 1.

For MP4s that browsers and players accept, put video/x-raw,format=I420 before x264enc
(from RGB, videoconvert ! x264enc negotiates 4:4:4, which most players refuse).
"""


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--.-"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:04.1f}"


class _CountLine:
    """A progress line on stderr for counted work (frames, files).

    Rewritten in place on a terminal, one line a second otherwise.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.start = time.monotonic()
        self.last_print = 0.0

    def _due(self, now: float, final: bool) -> bool:
        return final or now - self.last_print >= (0.25 if self.tty else 1.0)

    def _show(self, line: str, now: float, final: bool) -> None:
        end = "\n" if final or not self.tty else ""
        self.stream.write(("\r" if self.tty else "") + line + end)
        self.stream.flush()
        self.last_print = now

    def update(self, text: str, *, final: bool = False) -> None:
        now = time.monotonic()
        if self._due(now, final):
            self._show(f"{text}  elapsed {_clock(now - self.start)}", now, final)


class _Progress(_CountLine):
    """A running pipeline's frame count, rate and position as a progress line."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.last_frames = 0
        self.last_time = self.start

    def pipeline(self, p: Pipeline, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self._due(now, final):
            return
        frames = p.frames_counted()
        dt = now - self.last_time
        fps = (frames - self.last_frames) / dt if dt > 0 else 0.0
        if final:
            total = now - self.start
            fps = frames / total if total > 0 else 0.0
        self._show(
            f"frames {frames:>7}  fps {fps:7.1f}  {_clock(p.position)} / {_clock(p.duration)}", now, final
        )
        self.last_frames, self.last_time = frames, now


def _load_python_elements() -> None:
    """Return the Python elements of FRAMEPIPE_PLUGIN_PATH, as gst-launch-1.0 would see them."""
    load_modules(os.environ.get("FRAMEPIPE_PLUGIN_PATH", ""))


def _launch(args: argparse.Namespace) -> int:
    _load_python_elements()
    description = " ".join(args.description)
    p = Pipeline(description)
    progress = _Progress(sys.stderr)
    interrupts = 0

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        # The terminal echoed "^C" after the progress line: start a line of our own.
        if interrupts == 1:
            sys.stderr.write("\nInterrupt: sending EOS (Ctrl-C again to stop at once)\n")
            sys.stderr.flush()
            p.send_eos()
        else:
            sys.stderr.write("\n")
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    finished = False
    try:
        p.frames_counted()
        p.play()
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        drain_until: float | None = None
        while not (finished := p.wait(0.1)):
            progress.pipeline(p)
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise TimeoutError(f"no EOS within {args.timeout} s")
            if interrupts and drain_until is None:
                # After Ctrl-C, give the EOS at most 5 s to drain (muxers finalise).
                drain_until = now + 5.0
            if drain_until is not None and now > drain_until:
                sys.stderr.write("No EOS within 5 s of the interrupt: stopping without finalising\n")
                break
        progress.pipeline(p, final=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        p.stop(finish=False)
    # A Ctrl-C whose EOS drained is a clean finish (the file is complete): exit 0.
    return 0 if finished else 130


def _inspect(args: argparse.Namespace) -> int:
    _load_python_elements()
    if not args.element:
        for name, long_name, klass, plugin in _framepipe.factories():
            print(f"{plugin}:  {name}: {long_name}  [{klass}]")
        sys.stdout.flush()
        return 0
    d = _framepipe.describe_factory(args.element)
    print(f"Factory Details:\n  Name: {d['name']}\n  Long-name: {d['long_name']}")
    print(f"  Klass: {d['classification']}\n  Description: {d['description']}\n  Author: {d['author']}")
    print(f"  Plugin: {d['plugin']}\n  Rank: {d['rank']}\n\nPad Templates:")
    for t in d["pad_templates"]:
        print(f"  {t['direction'].upper()} template: '{t['name']}' ({t['presence']})")
        for line in t["caps"].split("; "):
            print(f"    {line}")
    print("\nElement Properties:")
    for prop in d["properties"]:
        flags = ("readable" if prop.readable else "") + (", writable" if prop.writable else "")
        print(f"  {prop.name:<20} : {prop.description}\n  {'':<20}   {flags} | {prop.type}", end="")
        if prop.minimum is not None:
            print(f"  Range: {prop.minimum} - {prop.maximum}", end="")
        print(f"  Default: {prop.default!r}")
    return 0


def _plugin_path(args: argparse.Namespace) -> int:
    print(PLUGIN_DIR)
    return 0


def _demo(args: argparse.Namespace) -> int:
    script = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
    if not script.exists():
        raise FramepipeError("the demo needs a source checkout of framepipe (examples/demo.py)")
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _info(args: argparse.Namespace) -> int:
    import importlib

    io = importlib.import_module("framepipe.io")  # the video file layer, imported lazily
    meta = io.immeta(args.file)
    for key, value in meta.items():
        print(f"{key}: {value}")
    return 0


def _ray_init(args: argparse.Namespace) -> Any:
    """framepipe.ray, with Ray connected as ``ray.init()`` does: to ``--address``, else to RAY_ADDRESS, else to the cluster ``ray start`` made on this node, else a new local Ray; ``--num-cpus`` asks for a new local Ray of that many CPUs."""
    fpray = importlib.import_module("framepipe.ray")  # imports Ray, which only these commands need
    ray = importlib.import_module("ray")
    if not ray.is_initialized():
        address = args.address or ("local" if args.num_cpus is not None else None)
        local: dict[str, Any] = {}
        if address == "local":
            local = {"num_cpus": args.num_cpus, "include_dashboard": False}
        ray.init(address=address, logging_level="ERROR", log_to_driver=args.debug, **local)
    if not args.debug:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return fpray


def _unwrap_ray_error(e: BaseException) -> BaseException:
    """Return the worker's own exception (framepipe's, naming the file) rather than Ray's wrapper, whose message carries the remote traceback."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, Exception) and type(e).__name__.startswith("RayTaskError") else e


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _float_list(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ray_read(args: argparse.Namespace) -> int:
    fpray = _ray_init(args)
    try:
        ds = fpray.read_videos(
            args.paths,
            format=args.format,
            indices=args.indices,
            step=args.step,
            times=args.times,
            on_error=args.on_error,
            frames_per_task=args.frames_per_task or None,
        )
        files = len(fpray.expand_paths(args.paths))
        progress = _CountLine(sys.stderr)
        frames: dict[str, int] = {}
        errors: dict[str, str] = {}
        total = 0
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            error_col = batch.get("error")
            for i, path in enumerate(batch["path"]):
                path = str(path)
                if error_col is not None and isinstance(error_col[i], str):  # null reads as None or NaN
                    errors[path] = f"{batch['error_type'][i]}: {error_col[i]}"
                    frames.setdefault(path, 0)
                else:
                    frames[path] = frames.get(path, 0) + 1
                    total += 1
            fps = total / max(1e-9, time.monotonic() - progress.start)
            progress.update(f"frames {total:>8}  fps {fps:8.1f}  files {len(frames):>5}/{files}")
        fps = total / max(1e-9, time.monotonic() - progress.start)
        progress.update(f"frames {total:>8}  fps {fps:8.1f}  files {len(frames):>5}/{files}", final=True)
    except Exception as e:
        raise _unwrap_ray_error(e) from None
    for path in sorted(frames):
        record = {"path": path, "frames": frames[path]}
        if path in errors:
            record["error"] = errors[path]
        print(
            json.dumps(record)
            if args.json
            else f"{frames[path]:>8}  {path}" + (f"  ({errors[path]})" if path in errors else "")
        )
    return 0


def _load_function(spec: str) -> Any:
    """``FILE.py:NAME`` or ``package.module:NAME``: the function ray-process runs per file."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"--function takes FILE.py:NAME or module:NAME, not {spec!r}")
    if target.endswith(".py"):
        module_name = f"_framepipe_ray_{Path(target).stem}"
        loader = importlib.util.spec_from_file_location(module_name, target)
        if loader is None or loader.loader is None:
            raise FileNotFoundError(target)
        module = importlib.util.module_from_spec(loader)
        sys.modules[module_name] = module
        loader.loader.exec_module(module)
        # Workers cannot import a file by this name: ship the module's code with the function.
        importlib.import_module("ray.cloudpickle").register_pickle_by_value(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name)


def _ray_process(args: argparse.Namespace) -> int:
    if (args.pipeline is None) == (args.function is None):
        raise ValueError("give one of --pipeline and --function")
    fpray = _ray_init(args)
    work = args.pipeline if args.pipeline is not None else _load_function(args.function)
    progress = _CountLine(sys.stderr)
    failed = 0
    frames = 0

    def on_file(record: dict[str, Any], done: int, total: int) -> None:
        nonlocal failed, frames
        failed += not record["ok"]
        frames += record["frames"] or 0
        progress.update(f"files {done:>5}/{total}  failed {failed}  frames {frames:>8}", final=done == total)
        if args.on_error == "record" or record["ok"]:
            print(json.dumps(record, default=repr), flush=True)

    try:
        fpray.process_videos(
            args.paths,
            work,
            on_error=args.on_error,
            num_cpus=args.cpus_per_task,
            output_dir=args.output_dir,
            output_name=args.output_name,
            timeout=args.timeout,
            progress=on_file,
        )
    except Exception as e:
        raise _unwrap_ray_error(e) from None
    return 1 if failed and args.on_error != "skip" else 0


def _add_ray_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="video files, directories, glob patterns")
    p.add_argument(
        "--address",
        default=None,
        help='a Ray cluster ("auto": the one `ray start` made here; default: RAY_ADDRESS, else a local Ray)',
    )
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--on-error", choices=["raise", "skip", "record"], default="raise")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``framepipe`` command's argument parser (one subcommand per verb)."""
    parser = argparse.ArgumentParser(
        prog="framepipe", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"framepipe {_framepipe.__version__} ({_framepipe.gstreamer_version})",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and GStreamer debug details")
    sub = parser.add_subparsers(dest="command", required=True)
    launch = sub.add_parser(
        "launch",
        help="run a pipeline like gst-launch-1.0, with a progress line",
        description="Run a pipeline like gst-launch-1.0, with a progress line (frames, fps, position).",
        epilog=LAUNCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    launch.add_argument("description", nargs="+", help="the pipeline, e.g. 'videotestsrc ! autovideosink'")
    launch.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    launch.set_defaults(func=_launch)
    inspect = sub.add_parser("inspect", help="list elements, or describe one")
    inspect.add_argument("element", nargs="?")
    inspect.set_defaults(func=_inspect)
    info = sub.add_parser("info", help="streams, codec, fps, exact frame count and duration of a video file")
    info.add_argument("file")
    info.set_defaults(func=_info)
    plugin = sub.add_parser("plugin-path", help="the directory to put on GST_PLUGIN_PATH for gst-launch-1.0")
    plugin.set_defaults(func=_plugin_path)
    demo = sub.add_parser("demo", help="run the demo (examples/demo.py)")
    demo.add_argument("rest", nargs=argparse.REMAINDER)
    demo.set_defaults(func=_demo)
    ray_read = sub.add_parser(
        "ray-read", help="read video frames on Ray (framepipe.ray.read_videos): counts per file"
    )
    _add_ray_options(ray_read)
    ray_read.add_argument("--format", default="rgb24")
    sample = ray_read.add_mutually_exclusive_group()
    sample.add_argument("--step", type=int, default=None, help="every STEP-th frame")
    sample.add_argument("--indices", type=_int_list, default=None, help="frame indices, e.g. 0,10,-1")
    sample.add_argument("--times", type=_float_list, default=None, help="times in seconds, e.g. 0,1.5")
    ray_read.add_argument(
        "--frames-per-task",
        type=int,
        default=1024,
        help="split longer files at keyframes (0: one task per file)",
    )
    ray_read.add_argument("--json", action="store_true", help="one JSON object per file")
    ray_read.set_defaults(func=_ray_read)
    ray_process = sub.add_parser(
        "ray-process", help="run a pipeline or a function on each video file as a Ray task (process_videos)"
    )
    _add_ray_options(ray_process)
    ray_process.add_argument("--pipeline", help="a description with {path} and {output}")
    ray_process.add_argument("--function", help="FILE.py:NAME or module:NAME, called with each VideoFile")
    ray_process.add_argument("--output-dir", default=None)
    ray_process.add_argument("--output-name", default="{stem}.jsonl", help="from {stem}, {name}, {ext}")
    ray_process.add_argument("--cpus-per-task", type=float, default=1)
    ray_process.add_argument("--timeout", type=float, default=None, help="seconds per file")
    ray_process.set_defaults(func=_ray_process)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``framepipe`` command with ``argv`` (the process's arguments when None); return its exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if "demo" in argv and set(argv[: argv.index("demo")]) <= {"--debug"}:
        # The demo's own options go to examples/demo.py untouched.
        cut = argv.index("demo") + 1
        args, extra = parser.parse_args(argv[:cut]), list[str]()
        args.rest = argv[cut:]
    else:
        args, extra = parser.parse_known_args(argv)
    if extra:
        args.debug = args.debug or "--debug" in extra
        extra = [e for e in extra if e != "--debug"]
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code: int = args.func(args)
        return code
    except BrokenPipeError:
        # The reader went away (`framepipe inspect | head`): stop quietly, as cat does.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        return 130
    except (FramepipeError, OSError, ValueError, TypeError) as e:
        if args.debug:
            traceback.print_exc()
            if isinstance(e, PipelineError) and e.debug:
                sys.stderr.write(f"Debug: {e.debug}\n")
        name = type(e).__name__
        where = f" from element {e.element}" if isinstance(e, PipelineError) and e.element else ""
        sys.stderr.write(f"ERROR{where}: {name}: {e}\n")
        return 1
    finally:
        sys.stderr.flush()
