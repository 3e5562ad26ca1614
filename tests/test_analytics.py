"""Analytics: Frame metadata (regions, tensors, messages), pyfunc, probes, fpoverlay, fpmetawriter and read_metadata (DESIGN.md §2 "Analytics", issue 5)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest

from .conftest import ROOT

RGB = "video/x-raw,format=RGB,width=320,height=240,framerate=30/1"


def writable_frame(w: int = 320, h: int = 240) -> fp.Frame:
    return fp.Frame.from_array(np.zeros((h, w, 3), np.uint8), pts=0)


def pulled(desc: str, sink: str = "out") -> list[fp.Frame]:
    with fp.Pipeline(desc) as p:
        return list(p.frames(sink, timeout=30))


@pytest.fixture
def module(tmp_path):
    """Write Python source to a .py file and returns its path."""

    def make(source: str, name: str = "user_mod") -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return make


# Frame metadata ------------------------------------------------------------------------


def test_add_region_fields_and_ids():
    f = writable_frame()
    r = f.add_region(10.4, 20.6, 30, 40, "car", 0.75, attributes={"color": "red", "n": [1, 2]})
    assert (r.x, r.y, r.w, r.h) == (10, 21, 30, 40)
    assert (r.label, r.confidence, r.id, r.parent_id) == ("car", 0.75, 1, 0)
    assert r.attributes == {"color": "red", "n": [1, 2]}
    r2 = f.add_region(0.25, 0.5, 0.5, 0.25, "person", normalized=True)
    assert (r2.x, r2.y, r2.w, r2.h, r2.id) == (80, 120, 160, 60, 2)
    assert [x.label for x in f.regions] == ["car", "person"]
    assert f.regions[0] == r
    f.remove_region(r)
    assert [x.id for x in f.regions] == [2]
    f.remove_region(2)
    assert f.regions == []
    with pytest.raises(ValueError):
        f.remove_region(r)


def test_region_outside_the_frame_is_value_error_and_partly_outside_is_clipped():
    f = writable_frame()
    with pytest.raises(ValueError, match="outside"):
        f.add_region(400, 10, 20, 20)
    with pytest.raises(ValueError, match="outside"):
        f.add_region(-50, 10, 20, 20)
    with pytest.raises(ValueError):
        f.add_region(10, 10, -1, 5)
    assert f.regions == []  # nothing was added by the failures
    r = f.add_region(300, 200, 50, 50)
    assert (r.x, r.y, r.w, r.h) == (300, 200, 20, 40)


def test_region_updates_and_tensors():
    f = writable_frame()
    r = f.add_region(1, 2, 3, 4, "a", 0.5)
    r.label, r.confidence, r.attributes = "b", 0.9, {"k": 1}
    (again,) = f.regions
    assert (again.label, again.confidence, again.attributes) == ("b", 0.9, {"k": 1})
    t = r.add_tensor("embedding", np.arange(6, dtype=np.float32).reshape(2, 3))
    assert (t.name, t.dtype, t.shape) == ("embedding", "float32", (2, 3))
    (again,) = f.regions
    (rt,) = again.tensors
    np.testing.assert_array_equal(rt.array, np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int64).reshape(3, 4),  # numpy's default int
        np.linspace(0, 1, 5),
        np.array([[True, False]]),
        np.arange(8, dtype=np.uint16)[::2],  # strided: copied in C order
        np.arange(4, dtype=">i4"),  # non-native: stored native
        np.zeros((0, 3), np.float32),
    ],
)
def test_tensors_keep_dtype_and_shape(array):
    f = writable_frame()
    t = f.add_tensor("t", array)
    (back,) = f.tensors
    assert back.name == "t"
    assert back.array.dtype == array.dtype.newbyteorder("=")
    assert back.array.shape == array.shape
    np.testing.assert_array_equal(back.array, array)
    assert not back.array.flags.writeable
    np.testing.assert_array_equal(t.array, array)


def test_object_tensor_is_type_error():
    f = writable_frame()
    with pytest.raises(TypeError):
        f.add_tensor("bad", np.array([{}, 1], dtype=object))
    with pytest.raises(TypeError):
        f.add_tensor("bad", np.array(["a", "b"]))
    assert f.tensors == []


def test_messages_round_trip():
    f = writable_frame()
    f.add_message({"event": "enter", "zone": [1, 2], "nested": {"a": None}})
    f.add_message("plain text")
    assert f.messages == [{"event": "enter", "zone": [1, 2], "nested": {"a": None}}, "plain text"]
    with pytest.raises(TypeError):
        f.add_message(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        f.add_message({"x": object()})
    assert len(f.messages) == 2


def test_read_only_frames_refuse_metadata_with_buffer_error():
    (frame,) = pulled(f"videotestsrc num-buffers=1 ! {RGB} ! appsink name=out")
    assert not frame.writable
    for add in (
        lambda: frame.add_region(1, 1, 5, 5),
        lambda: frame.add_tensor("t", np.zeros(3)),
        lambda: frame.add_message("m"),
    ):
        with pytest.raises(BufferError, match="read-only"):
            add()
    assert frame.regions == [] and frame.tensors == [] and frame.messages == []
    copy = frame.copy()
    copy.add_region(1, 1, 5, 5, "ok")
    assert [r.label for r in copy.regions] == ["ok"]


def test_metadata_before_and_after_array_access_and_copies():
    f = writable_frame()
    f.add_region(1, 1, 5, 5, "before")
    a = f.array  # maps the buffer writable
    a[0, 0] = 7
    f.add_region(2, 2, 5, 5, "after")
    f.add_tensor("t", np.ones(3))
    f.add_message({"m": 1})
    assert [r.label for r in f.regions] == ["before", "after"]
    assert f.array[0, 0, 0] == 7 and a[0, 0, 0] == 7  # the views are still valid
    c = f.copy()
    assert [r.label for r in c.regions] == ["before", "after"]
    assert [t.name for t in c.tensors] == ["t"] and c.messages == [{"m": 1}]
    c.add_region(3, 3, 5, 5, "only-copy")
    assert len(f.regions) == 2 and len(c.regions) == 3


# Metadata through elements ------------------------------------------------------------

PROBE_DESC = (
    f"videotestsrc num-buffers=3 ! {RGB} ! identity name=tag ! queue ! tee name=t "
    "! queue ! identity ! videoconvert ! videoscale ! video/x-raw,format=I420,width={w},height={h} "
    "! appsink name=out t. ! queue ! fakesink"
)


def tag(frame: fp.Frame) -> None:
    r = frame.add_region(11, 13, 101, 57, "box", 0.5, attributes={"k": "v"})
    r.add_tensor("emb", np.arange(3, dtype=np.int64))
    frame.add_tensor("logits", np.eye(2, dtype=np.float32))
    frame.add_message({"n": frame.pts})


@pytest.mark.parametrize(
    ("size", "expected"),
    [((640, 480), (22, 26, 202, 114)), ((320, 240), (11, 13, 101, 57)), ((213, 97), (7, 5, 67, 23))],
)
def test_metadata_survives_queue_tee_identity_videoconvert_videoscale(size, expected):
    """Boxes scale like GStreamer's own ROI meta: each coordinate times new/old, floored."""
    with fp.Pipeline(PROBE_DESC.format(w=size[0], h=size[1])) as p:
        p.add_probe("tag.src", tag)
        frames = list(p.frames("out", timeout=30))
    assert len(frames) == 3
    for f in frames:
        (r,) = f.regions
        assert (r.x, r.y, r.w, r.h) == expected
        assert (r.label, r.confidence, r.attributes) == ("box", 0.5, {"k": "v"})
        assert [t.name for t in r.tensors] == ["emb"]
        np.testing.assert_array_equal(r.tensors[0].array, [0, 1, 2])
        (t,) = f.tensors
        np.testing.assert_array_equal(t.array, np.eye(2))
        assert f.messages == [{"n": f.pts}]


def test_probe_drops_with_false_and_can_be_removed():
    seen = []

    def every_other(frame: fp.Frame) -> bool:
        seen.append(frame.pts)
        return len(seen) % 2 == 1

    with fp.Pipeline(f"videotestsrc num-buffers=10 ! {RGB} ! identity name=i ! appsink name=out") as p:
        pid = p.add_probe("i.sink", every_other)
        assert isinstance(pid, int)
        frames = list(p.frames("out", timeout=30))
    assert len(seen) == 10 and len(frames) == 5
    with fp.Pipeline(f"videotestsrc num-buffers=4 ! {RGB} ! identity name=i ! appsink name=out") as p:
        pid = p.add_probe("i.sink", lambda f: False)
        p.remove_probe(pid)
        assert len(list(p.frames("out", timeout=30))) == 4
        with pytest.raises(ValueError):
            p.remove_probe(pid)


def test_probe_frame_is_writable_and_edits_flow_on():
    def paint(frame: fp.Frame) -> None:
        assert frame.writable
        frame.array[:10, :10] = 255

    with fp.Pipeline(f"videotestsrc pattern=black num-buffers=2 ! {RGB} ! appsink name=out") as p:
        p.add_probe("out.sink", paint)
        frames = list(p.frames("out", timeout=30))
    assert all((f.array[:10, :10] == 255).all() and f.array[20, 20].max() == 0 for f in frames)


def test_bad_probe_arguments():
    with fp.Pipeline(f"videotestsrc num-buffers=1 ! {RGB} ! appsink name=out") as p:
        with pytest.raises(ValueError, match=r"element\.padname"):
            p.add_probe("out", print)
        with pytest.raises(ValueError, match="no pad"):
            p.add_probe("out.nope", print)
        with pytest.raises(TypeError):
            p.add_probe("out.sink", 42)  # type: ignore[arg-type]
        with pytest.raises(KeyError):
            p.add_probe("missing.src", print)


class Boom(Exception):
    pass


def test_probe_exception_is_pipeline_error_with_cause():
    raised = []

    def fail(frame: fp.Frame) -> None:
        exc = Boom("probe failed on purpose")
        raised.append(exc)
        raise exc

    with fp.Pipeline(f"videotestsrc num-buffers=5 ! {RGB} ! identity name=victim ! fakesink") as p:
        p.add_probe("victim.src", fail)
        with pytest.raises(fp.PipelineError) as info:
            p.run(timeout=30)
        assert p.state == "NULL"
    err = info.value
    assert err.element == "victim"
    assert err.__cause__ is raised[0]
    assert err.debug is not None and "Traceback" in err.debug and "probe failed on purpose" in err.debug


# pyfunc ----------------------------------------------------------------------------------

DETECT = """
import numpy as np

def process_frame(frame):
    frame.add_region(10, 20, 30, 40, "thing", 0.5)
    return True

def drop_odd(frame):
    return frame.pts // 33_333_333 % 2 == 0 if frame.pts is not None else True

def paint(frame, value=0):
    frame.array[:] = value

class Counter:
    def __init__(self, label="x", start=0):
        self.label, self.n = label, start

    def process_frame(self, frame):
        self.n += 1
        frame.add_region(0, 0, 8, 8, self.label, attributes={"n": self.n})
"""


def test_pyfunc_module_path_adds_regions(module):
    path = module(DETECT)
    frames = pulled(f"videotestsrc num-buffers=4 ! {RGB} ! pyfunc module={path} ! appsink name=out")
    assert [[(r.x, r.y, r.w, r.h, r.label) for r in f.regions] for f in frames] == [
        [(10, 20, 30, 40, "thing")]
    ] * 4


def test_pyfunc_dotted_module_class_and_kwargs(module, monkeypatch):
    path = module(DETECT, name="fp_test_dotted_mod")
    monkeypatch.syspath_prepend(str(path.parent))
    frames = pulled(
        f"videotestsrc num-buffers=3 ! {RGB} ! pyfunc module=fp_test_dotted_mod class=Counter "
        """kwargs="{\\"label\\": \\"counted\\", \\"start\\": 10}" ! appsink name=out"""
    )
    assert [(f.regions[0].label, f.regions[0].attributes) for f in frames] == [
        ("counted", {"n": 11}),
        ("counted", {"n": 12}),
        ("counted", {"n": 13}),
    ]


def test_pyfunc_function_kwargs_and_writable_array(module):
    path = module(DETECT)
    frames = pulled(
        f"videotestsrc num-buffers=2 ! {RGB} ! pyfunc module={path} function=paint "
        """kwargs="{\\"value\\": 77}" ! appsink name=out"""
    )
    assert all((f.array == 77).all() for f in frames)


def test_pyfunc_false_drops_frames(module):
    path = module(DETECT)
    with fp.Pipeline(
        f"videotestsrc num-buffers=10 ! {RGB} ! pyfunc module={path} function=drop_odd ! appsink name=out"
    ) as p:
        frames = list(p.frames("out", timeout=30))
    assert len(frames) == 5
    assert [f.pts // 33_333_333 % 2 for f in frames if f.pts is not None] == [0] * 5


@pytest.mark.parametrize(
    ("props", "prop"),
    [
        ("module=no_such_module_xyz", "module"),
        ("module=/nonexistent/dir/nothing.py", "module"),
        ("module={path} function=no_such_function", "function"),
        ("module={path} class=NoSuchClass", "class"),
        ("""module={path} kwargs="[1, 2]" """, "kwargs"),
        ("""module={path} kwargs="not json" """, "kwargs"),
        ("", "module"),
    ],
)
def test_pyfunc_bad_settings_fail_the_state_change_naming_the_property(module, props, prop):
    path = module(DETECT)
    desc = f"videotestsrc num-buffers=3 ! {RGB} ! pyfunc name=pf {props.format(path=path)} ! fakesink"
    with fp.Pipeline(desc) as p:
        with pytest.raises(fp.PipelineError) as info:
            p.run(timeout=30)
        assert p.state == "NULL"
    assert info.value.element == "pf"
    assert f"property '{prop}'" in str(info.value)


def test_pyfunc_exception_is_pipeline_error_with_the_original_cause(module):
    path = module(
        """
        raised = []

        def process_frame(frame):
            if frame.pts:
                exc = ZeroDivisionError("division inside the callback")
                raised.append(exc)
                raise exc
        """
    )
    with fp.Pipeline(
        f"videotestsrc num-buffers=5 ! {RGB} ! pyfunc name=fail module={path} ! appsink name=out"
    ) as p:
        with pytest.raises(fp.PipelineError) as info:
            list(p.frames("out", timeout=30))
    import sys

    raised = sys.modules["framepipe_pyfunc_user_mod"].raised
    err = info.value
    assert err.element == "fail"
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert err.__cause__ is raised[0]
    assert "ZeroDivisionError" in str(err)
    assert err.debug is not None and "Traceback" in err.debug and "division inside the callback" in err.debug


def test_pyfunc_kept_views_never_alias_downstream_buffers(module):
    path = module(
        """
        kept_arrays, kept_frames = [], []

        def process_frame(frame):
            if frame.pts == 0:
                kept_arrays.append(frame.array)   # a view escapes: downstream gets a copy
            else:
                kept_frames.append(frame)         # only the frame: its buffer goes on as is
            frame.array[0, 0] = 9
        """
    )
    frames = pulled(f"videotestsrc num-buffers=3 ! {RGB} ! pyfunc module={path} ! appsink name=out")
    import sys

    mod = sys.modules["framepipe_pyfunc_user_mod"]
    (kept,) = mod.kept_arrays
    assert (frames[0].array == kept).all()
    assert not np.shares_memory(frames[0].array, kept)
    before = frames[0].array.copy()
    kept[:] = 1  # the user's array stays usable and writable over its own memory
    assert (frames[0].array == before).all()
    assert all(f.array[0, 0, 0] == 9 for f in frames)
    for frame in mod.kept_frames:
        with pytest.raises(BufferError, match="downstream"):
            _ = frame.array
        with pytest.raises(BufferError):
            frame.add_region(0, 0, 1, 1)
        # No plausible values from an empty stand-in buffer: every read says why.
        for attr in (
            "pts",
            "dts",
            "duration",
            "time",
            "keyframe",
            "regions",
            "tensors",
            "messages",
            "buffer",
        ):
            with pytest.raises(BufferError, match="downstream"):
                getattr(frame, attr)


def test_pyfunc_in_gst_launch_reports_a_missing_module_clearly(tmp_path):
    # The plugin file's loader embeds Python and imports framepipe, so pyfunc runs in
    # gst-launch-1.0 too; a module that does not exist is named in the error.
    import os
    import shutil
    import subprocess

    launch = shutil.which("gst-launch-1.0")
    plugin = ROOT / "python" / "framepipe" / "gst-plugins"
    if launch is None or not (plugin / "libgstframepipe.so").exists():
        pytest.skip("gst-launch-1.0 or the plugin file is missing")
    r = subprocess.run(
        [launch, "videotestsrc", "num-buffers=1", "!", "pyfunc", "module=x", "!", "fakesink"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GST_PLUGIN_PATH": str(plugin), "GST_REGISTRY": str(tmp_path / "reg.bin")},
    )
    assert r.returncode != 0
    assert "no module named 'x'" in r.stdout + r.stderr


# fpoverlay, fpmetawriter, read_metadata ----------------------------------------------


@pytest.mark.parametrize("fmt", ["RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "I420", "NV12"])
def test_fpoverlay_draws_boxes_in_every_format(fmt):
    desc = (
        f"videotestsrc pattern=black num-buffers=1 ! video/x-raw,format={fmt},width=160,height=120 "
        "! identity name=tag ! fpoverlay ! videoconvert ! video/x-raw,format=RGB ! appsink name=out"
    )
    with fp.Pipeline(desc) as p:
        p.add_probe("tag.src", lambda f: f.add_region(40, 30, 60, 50, "car", 0.9) and None)
        (frame,) = list(p.frames("out", timeout=30))
    a = frame.array.astype(int)
    assert a[30:80, 40:42].max() > 60  # left edge of the box
    assert a[60:70, 60:90].max() < 40  # inside stays black (labels sit above the box)
    assert a[110:, :].max() < 40  # far away stays black


def test_fpmetawriter_output_reads_back(tmp_path):
    out = tmp_path / "meta.jsonl"
    desc = f"videotestsrc num-buffers=3 ! {RGB} ! identity name=tag ! fpmetawriter location={out} ! fakesink"
    with fp.Pipeline(desc) as p:
        p.add_probe("tag.src", tag)
        p.run(timeout=30)
    records = fp.read_metadata(out)
    assert len(records) == 3
    r = records[1]
    assert r["pts"] == 33_333_333
    (region,) = r["regions"]
    assert {k: region[k] for k in ("x", "y", "w", "h", "label", "confidence", "attributes")} == {
        "x": 11,
        "y": 13,
        "w": 101,
        "h": 57,
        "label": "box",
        "confidence": 0.5,
        "attributes": {"k": "v"},
    }
    assert r["messages"] == [{"n": 33_333_333}]
    assert r["tensors"] == [{"name": "logits", "shape": [2, 2], "dtype": "float32"}]
    assert fp.read_metadata(str(out)) == records


def test_read_metadata_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        fp.read_metadata(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"pts": 1}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        fp.read_metadata(bad)


# The example ----------------------------------------------------------------------------


def test_detect_example(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "detect.py"), "--frames", "30", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "30 frames, the ball found in 30" in r.stdout
    assert (tmp_path / "detect.mp4").stat().st_size > 1000
    records = fp.read_metadata(tmp_path / "detect.jsonl")
    boxes = [rec["regions"][0] for rec in records]
    assert all(b["label"] == "ball" and 10 <= b["w"] <= 80 for b in boxes)
    assert len({(b["x"], b["y"]) for b in boxes}) > 10  # it moves


@pytest.mark.parametrize("stop", ["exit", "del", "error"])
def test_process_exit_or_drop_while_pyfunc_runs_is_clean(py_run, module, stop):
    """The streaming thread waits for the GIL while the pipeline stops: no deadlock, no crash."""
    path = module(DETECT + "\ndef fail(frame):\n    raise RuntimeError('x')\n")
    function = "fail" if stop == "error" else "process_frame"
    r = py_run(
        f"""
        import time
        import framepipe as fp
        p = fp.Pipeline("videotestsrc is-live=true ! video/x-raw,format=RGB,width=64,height=48 "
                        "! pyfunc module={path} function={function} ! fakesink")
        p.play()
        time.sleep(0.3)
        if {stop!r} == "del":
            del p
        print("exiting")
        """,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "exiting" in r.stdout
    assert "Fatal" not in r.stderr and "panicked" not in r.stderr
