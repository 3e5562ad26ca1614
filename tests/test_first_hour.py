"""What a new user trips over in the first hour (issue 15): each surprise and each error that could say what to do, as a test."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest

from .conftest import ROOT, ffprobe_stream


def ffprobe_rotation(path: Path) -> int:
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for line in r.stdout.splitlines():
        if line.startswith("rotation="):
            return int(float(line.split("=", 1)[1]))
    return 0


def cli(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framepipe", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


# -- frames() does not run at real-time speed -------------------------------------------


@pytest.mark.slow
def test_frames_from_a_file_run_far_faster_than_the_clip(tmp_path):
    clip = tmp_path / "clip.mp4"
    n, fps = 600, 30  # a 20 s clip
    fp.imwrite(clip, np.zeros((n, 48, 64, 3), np.uint8), fps=fps)
    duration = n / fps
    p = fp.Pipeline(
        f"filesrc location={clip} ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink name=out"
    )
    start = time.monotonic()
    with p:
        count = sum(1 for _ in p.frames("out", timeout=30))
    elapsed = time.monotonic() - start
    assert count == n
    # With appsink's clock sync this took the clip's duration (20 s); unsynced it takes
    # about as long as decoding 600 tiny frames. Half the duration is a generous bound.
    assert elapsed < duration / 2, f"{n} frames took {elapsed:.1f} s of a {duration:.0f} s clip"


def test_appsink_sync_is_off_unless_the_description_sets_it():
    desc = "videotestsrc num-buffers=1 ! appsink name=a {}  videotestsrc num-buffers=1 ! appsink name=b"
    p = fp.Pipeline(desc.format(""))
    assert p.element("a").get("sync") is False and p.element("b").get("sync") is False
    p = fp.Pipeline(desc.format("sync=true"))
    assert p.element("a").get("sync") is True and p.element("b").get("sync") is False
    p = fp.Pipeline('videotestsrc num-buffers=1 ! appsink sync = true max-buffers=2 name="s"')
    assert p.element("s").get("sync") is True
    # Other sinks keep what the description says.
    p = fp.Pipeline("videotestsrc ! fakesink name=f sync=true")
    assert p.element("f").get("sync") is True


def test_live_sources_still_set_the_pace():
    p = fp.Pipeline(
        "videotestsrc is-live=true num-buffers=10 ! video/x-raw,width=32,height=24,framerate=20/1 "
        "! appsink name=out"
    )
    start = time.monotonic()
    with p:
        count = sum(1 for _ in p.frames("out", timeout=10))
    assert count == 10
    # 10 frames at 20 fps are produced in real time: at least ~0.45 s.
    assert time.monotonic() - start > 0.3


# -- end_of_stream without run, and a run without end_of_stream ---------------------------


def encoder(path: Path) -> fp.Pipeline:
    return fp.Pipeline(
        "appsrc name=src ! videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux "
        f"! filesink location={path}"
    )


def test_leaving_with_after_end_of_stream_finishes_the_file(tmp_path):
    out = tmp_path / "out.mp4"
    enc = encoder(out)
    with enc:
        for k in range(12):
            enc.push("src", np.full((48, 64, 3), k * 20, np.uint8))
        enc.end_of_stream("src")
    assert enc.state == "NULL"
    assert out.stat().st_size > 0
    stream = ffprobe_stream(out)
    assert stream["nb_read_frames"] == "12" and stream["pix_fmt"] == "yuv420p"


def test_stop_after_send_eos_finishes_the_file(tmp_path):
    out = tmp_path / "live.mp4"
    p = fp.Pipeline(
        "videotestsrc num-buffers=100000 ! video/x-raw,width=64,height=48,framerate=30/1 ! videoconvert "
        f"! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location={out}"
    )
    p.play()
    time.sleep(0.5)
    p.send_eos()
    p.stop()
    assert int(ffprobe_stream(out)["nb_read_frames"]) > 0


def test_stop_says_why_when_the_pending_eos_does_not_arrive():
    p = fp.Pipeline("appsrc name=src ! identity sleep-time=1000000 ! fakesink")
    p.push("src", np.zeros((8, 8, 3), np.uint8))
    p.end_of_stream("src")
    with pytest.raises(TimeoutError, match="incomplete"):
        p.stop(timeout=0.3)
    assert p.state == "NULL"


def test_leaving_with_on_an_exception_does_not_wait(tmp_path):
    enc = fp.Pipeline("appsrc name=src ! identity sleep-time=1000000 ! fakesink")
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"), enc:
        enc.push("src", np.zeros((8, 8, 3), np.uint8))
        enc.end_of_stream("src")
        raise RuntimeError("boom")
    assert enc.state == "NULL"
    assert time.monotonic() - start < 30


def test_run_timeout_says_end_of_stream_is_missing(tmp_path):
    enc = encoder(tmp_path / "out.mp4")
    with enc:
        enc.push("src", np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(TimeoutError, match=r'end_of_stream\("src"\)'):
            enc.run(timeout=1)
    assert enc.state == "NULL"


def test_a_timeout_with_every_stream_ended_has_no_such_hint():
    p = fp.Pipeline("videotestsrc is-live=true ! fakesink")
    with pytest.raises(TimeoutError) as info:
        p.run(timeout=0.3)
    assert "end_of_stream" not in str(info.value)


# -- yuv420p by default ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "codec", "expected"),
    [
        ("x.mp4", "h264", {"yuv420p"}),
        ("x.avi", "mjpeg", {"yuvj420p", "yuv420p"}),
        ("x.mkv", "hevc", {"yuv420p"}),
    ],
)
def test_imwrite_defaults_to_yuv420p(tmp_path, name, codec, expected):
    if codec not in fp.video_codecs():
        pytest.skip(f"no {codec} encoder")
    frames = np.random.default_rng(0).integers(0, 255, (4, 48, 64, 3), np.uint8)
    fp.imwrite(tmp_path / name, frames, codec=codec)
    stream = ffprobe_stream(tmp_path / name)
    assert stream["pix_fmt"] in expected, stream
    assert stream["nb_read_frames"] == "4"


# -- re-registering a Python element -------------------------------------------------------


def test_redefining_an_element_replaces_its_class(py_run):
    r = py_run(
        """
        import framepipe as fp
        import numpy as np

        def make(value, extra=False):
            body = {"caps": "video/x-raw,format=GRAY8",
                    "transform_ip": lambda self, frame: frame.array.fill(value)}
            if extra:
                body["level"] = fp.Property(int, 7, minimum=0, maximum=255)
                body["transform_ip"] = lambda self, frame: frame.array.fill(self.level)
            return fp.element("pydup")(type("Dup", (fp.Transform,), body))

        def first_pixel(p):
            with p:
                return int(next(iter(p.frames("out"))).array[0, 0])

        desc = "videotestsrc num-buffers=1 ! video/x-raw,format=GRAY8,width=8,height=8 ! pydup {} ! appsink name=out"
        make(1)
        before = fp.Pipeline(desc.format(""))
        print(first_pixel(fp.Pipeline(desc.format(""))))
        make(2)                                   # same description: the class is swapped
        print(first_pixel(fp.Pipeline(desc.format(""))))
        print(first_pixel(before))                # made before: keeps its class
        make(0, extra=True)                       # a new property: a new type takes the name
        print(first_pixel(fp.Pipeline(desc.format("level=42"))))
        make(3)                                   # and back
        print(first_pixel(fp.Pipeline(desc.format(""))))
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "2", "1", "42", "3"]


# -- immeta rotation is FFmpeg's --------------------------------------------------------------


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotation_equals_ffprobe(tmp_path, rotate):
    plain = tmp_path / "plain.mp4"
    fp.imwrite(plain, np.zeros((3, 48, 64, 3), np.uint8))
    rotated = tmp_path / f"rot{rotate}.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(plain),
            "-c",
            "copy",
            "-metadata:s:v:0",
            f"rotate={rotate}",
            str(rotated),
        ],
        check=True,
        timeout=60,
    )
    expected = ffprobe_rotation(rotated)
    assert expected != 0
    assert fp.immeta(rotated)["rotation"] == expected
    assert fp.immeta(plain)["rotation"] == 0
    # apply_rotation (default off) turns quarter turns into portrait frames.
    assert fp.imread(rotated, index=0).shape == (48, 64, 3)
    upright = fp.imread(rotated, index=0, apply_rotation=True)
    assert upright.shape == ((64, 48, 3) if rotate != 180 else (48, 64, 3))


# -- errors that say what to do ---------------------------------------------------------------


def test_missing_file_error_names_the_file():
    p = fp.Pipeline("filesrc location=/nonexistent/clip.mp4 ! fakesink")
    with pytest.raises(fp.PipelineError) as info:
        p.run(timeout=10)
    assert "/nonexistent/clip.mp4" in str(info.value)
    assert info.value.element and info.value.element.startswith("filesrc")
    assert info.value.message == "Resource not found."


def test_imwrite_odd_size_says_even_and_leaves_nothing(tmp_path):
    out = tmp_path / "odd.mp4"
    with pytest.raises(ValueError, match="even width and height") as info:
        fp.imwrite(out, np.zeros((3, 49, 65, 3), np.uint8))
    assert "crop" in str(info.value)
    assert not out.exists()
    # An even size, or yuv444p, is fine.
    fp.imwrite(out, np.zeros((3, 49, 65, 3), np.uint8), pixel_format="yuv444p")
    assert ffprobe_stream(out)["pix_fmt"] == "yuv444p"


def test_imwrite_into_a_missing_folder_fails_at_once(tmp_path):
    out = tmp_path / "no" / "such" / "out.mp4"

    def frames():
        yield np.zeros((48, 64, 3), np.uint8)
        raise AssertionError("imwrite asked for frames before checking the folder")

    with pytest.raises(FileNotFoundError, match="folder"):
        fp.imwrite(out, frames())
    with pytest.raises(FileNotFoundError):
        fp.open(out, "w")
    assert not out.parent.exists()


def test_imwrite_float_frames_hint_astype(tmp_path):
    out = tmp_path / "f.mp4"
    with pytest.raises(ValueError, match=r"astype\(np\.uint8\)"):
        fp.imwrite(out, np.zeros((2, 48, 64, 3), np.float32))
    assert not out.exists()


def test_imwrite_takes_2d_uint8_frames_as_gray(tmp_path):
    out = tmp_path / "gray.mp4"
    gray = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))
    fp.imwrite(out, np.stack([gray] * 3))
    back = fp.imread(out, format="gray")
    assert back.shape == (3, 48, 64)
    assert np.abs(back.astype(int) - gray).mean() < 4
    # gray frames of another layout get a hint
    with pytest.raises(ValueError, match='in_pixel_format="gray"'):
        fp.imwrite(tmp_path / "g1.mp4", np.zeros((2, 48, 64, 1), np.uint8))


def test_imwrite_without_frames_raises_and_keeps_an_existing_file(tmp_path):
    out = tmp_path / "empty.mp4"
    with pytest.raises(ValueError, match="no frames"):
        fp.imwrite(out, [])
    with pytest.raises(ValueError, match="no frames"):
        fp.imwrite(out, np.zeros((0, 48, 64, 3), np.uint8))
    assert not out.exists()
    out.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="no frames"):
        fp.imwrite(out, iter([]))
    assert out.read_bytes() == b"keep me"


def test_imwrite_wrong_shape_midstream_leaves_no_partial_file(tmp_path):
    out = tmp_path / "partial.mp4"
    frames = [np.zeros((48, 64, 3), np.uint8)] * 5 + [np.zeros((32, 32, 3), np.uint8)]
    with pytest.raises(ValueError, match="frame 5"):
        fp.imwrite(out, frames)
    assert not out.exists()


def test_planar_frames_suggest_videoconvert():
    p = fp.Pipeline(
        "videotestsrc num-buffers=1 ! video/x-raw,format=I420,width=64,height=48 ! appsink name=out"
    )
    with p:
        frame = p.pull("out", timeout=10)
        assert frame is not None
        with pytest.raises(ValueError, match=r"planes.*videoconvert ! video/x-raw,format=RGB"):
            _ = frame.array


def test_unknown_element_names_raise_keyerror_listing_names():
    p = fp.Pipeline("videotestsrc name=src num-buffers=1 ! appsink name=out")
    calls = [
        lambda: p.add_probe("nosuch.src", lambda f: None),
        lambda: p.push("nosuch", np.zeros((4, 4, 3), np.uint8)),
        lambda: next(iter(p.frames("nosuch"))),
        lambda: p.pull("nosuch"),
        lambda: p.element("nosuch"),
        lambda: p.end_of_stream("nosuch"),
    ]
    for call in calls:
        with pytest.raises(KeyError) as info:
            call()
        assert "nosuch" in str(info.value) and "out" in str(info.value) and "src" in str(info.value)
    p.stop()


def test_pyfunc_instances_are_named_like_gstreamer_names_them(py_run):
    r = py_run(
        """
        import framepipe as fp
        p = fp.Pipeline("videotestsrc ! pyfunc module=examples/detector.py ! pyfunc module=examples/detector.py ! fakesink")
        print(p.element("pyfunc0").factory, p.element("pyfunc1").factory)
        print("fppyfunc" in p.graph())
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["pyfunc", "pyfunc", "False"]


@pytest.mark.parametrize(
    ("typo", "meant"), [("videotestscr", "videotestsrc"), ("x246enc", "x264enc"), ("pyfnuc", "pyfunc")]
)
def test_misspelled_element_suggests_the_name(typo, meant):
    with pytest.raises(fp.ParseError, match=f'did you mean "{meant}"') as info:
        fp.Pipeline(f"videotestsrc ! {typo} ! fakesink".replace("videotestsrc !", "videotestsrc !", 1))
    assert info.value.token == typo


# -- the command line ---------------------------------------------------------------------


def test_inspect_lists_framepipe_and_python_elements_with_their_plugin():
    r = cli("inspect", env={"FRAMEPIPE_PLUGIN_PATH": str(ROOT / "examples" / "audiotestsrc.py")})
    assert r.returncode == 0, r.stderr
    lines = {
        line.split(":")[1].strip(): line.split(":")[0]
        for line in r.stdout.splitlines()
        if line.count(":") >= 2
    }
    for name in ("pyfunc", "fpoverlay", "fpmetawriter", "pyaudiotestsrc"):
        assert name in lines, name
        assert lines[name].strip(), f"{name} has no plugin"
    assert lines["videotestsrc"] == "videotestsrc"


def test_inspect_into_a_closed_pipe_is_quiet():
    proc = subprocess.Popen(
        [sys.executable, "-m", "framepipe", "inspect"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0, err
    assert "BrokenPipeError" not in err and "Traceback" not in err, err


def test_launch_counts_frames_not_muxer_buffers(tmp_path):
    out = tmp_path / "out.mp4"
    r = cli(
        "launch",
        "videotestsrc num-buffers=60 ! video/x-raw,width=64,height=48 ! videoconvert ! video/x-raw,format=I420 "
        f"! x264enc ! mp4mux ! filesink location={out}",
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1].split()[:2] == ["frames", "60"], r.stderr
    assert ffprobe_stream(out)["pix_fmt"] == "yuv420p"


def test_launch_second_ctrl_c_message_on_its_own_line():
    # stderr is a terminal, so the progress line is rewritten in place without newlines.
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "framepipe",
            "launch",
            "videotestsrc is-live=true ! queue max-size-time=0 max-size-bytes=0 ! identity sleep-time=300000 ! fakesink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        cwd=ROOT,
    )
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while b"frames" not in out and time.monotonic() < deadline:
            try:
                out += os.read(master, 4096)
            except OSError:  # the child exited early: its output tells why
                break
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGINT)  # EOS: queued behind the slow identity
        time.sleep(0.7)
        os.kill(proc.pid, signal.SIGINT)  # stop at once
        assert proc.wait(timeout=30) == 130
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode(errors="replace").replace("\r\n", "\n")
    assert "\nInterrupted" in text, text
    assert "\nInterrupt: sending EOS" in text, text


def test_version_and_plain_help():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"framepipe {fp.__version__}"), r.stdout
    r = cli("--help")
    assert r.returncode == 0 and "``" not in r.stdout and "launch" in r.stdout
    r = cli("launch", "--help")
    assert r.returncode == 0 and "exit status is 0" in r.stdout.replace("\n", " ")


# -- docstrings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "words"),
    [
        (fp.imread, ["index", "format", "filter", "thread_count", "apply_rotation", "kwargs", "Raises"]),
        (fp.imiter, ["format", "filter", "thread_count", "apply_rotation", "kwargs", "Yields"]),
        (
            fp.imwrite,
            ["frames", "fps", "codec", "pixel_format", "quality", "filter", "metadata", "in_pixel_format"],
        ),
        (fp.open, ["uri", "mode", "kwargs", "apply_rotation", "Returns"]),
        (fp.Frame, ["Attributes", "array", "planes", "pts", "writable"]),
        (fp.Pipeline.play, ["Raises"]),
        (fp.Pipeline.pause, ["PAUSED"]),
        (fp.Pipeline.stop, ["finish", "timeout"]),
        (fp.Pipeline.frames, ["sync=true"]),
        (fp.Pipeline.pull, ["sync=true"]),
    ],
)
def test_docstrings_explain_every_argument(func, words):
    doc = func.__doc__ or ""
    for word in words:
        assert word in doc, f"{func.__qualname__}: {word!r} is not explained"


def test_state_is_documented():
    doc = fp.Pipeline.state.__doc__ or ""
    assert "NULL" in doc and "PLAYING" in doc
