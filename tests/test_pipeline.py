"""Pipeline: states, pulling, pushing, errors, elements, messages, seeking."""

from __future__ import annotations

import itertools
import threading

import framepipe as fp
import numpy as np
import pytest

RGB_SRC = "videotestsrc num-buffers={n} ! video/x-raw,format=RGB,width=64,height=48,framerate=30/1 ! appsink name=out"


def test_second_constant():
    assert fp.SECOND == 1_000_000_000


def test_frames_until_eos_then_states():
    p = fp.Pipeline(RGB_SRC.format(n=7) + " sync=false")
    assert p.state == "NULL"
    with p:
        frames = list(p.frames("out"))
        assert p.state in ("PAUSED", "PLAYING")
    assert p.state == "NULL"
    assert len(frames) == 7
    assert [f.pts for f in frames] == [i * fp.SECOND // 30 for i in range(7)]
    assert frames[1].time == pytest.approx(1 / 30)
    assert all(f.pts + f.duration == g.pts for f, g in itertools.pairwise(frames))
    f = frames[0]
    assert (f.width, f.height, f.format) == (64, 48, "RGB")
    assert "video/x-raw" in f.caps and "RGB" in f.caps
    assert f.keyframe and not f.writable


def test_pull_returns_none_at_eos():
    with fp.Pipeline(RGB_SRC.format(n=2)) as p:
        assert p.pull("out", timeout=10) is not None
        assert p.pull("out", timeout=10) is not None
        assert p.pull("out", timeout=10) is None
        assert p.pull("out", timeout=10) is None


def test_play_pause_stop():
    p = fp.Pipeline("videotestsrc ! fakesink")
    p.pause()
    assert p.wait(0.2) is False
    assert p.state in ("READY", "PAUSED")
    p.play()
    p.stop()
    assert p.state == "NULL"


def test_run_to_eos_stops():
    p = fp.Pipeline("videotestsrc num-buffers=20 ! fakesink")
    p.run(timeout=10)
    assert p.state == "NULL"


def test_with_stops_on_exception():
    p = fp.Pipeline("videotestsrc is-live=true ! fakesink")
    with pytest.raises(RuntimeError), p:
        p.play()
        raise RuntimeError("boom")
    assert p.state == "NULL"


def test_unknown_element_is_parse_error_naming_it():
    with pytest.raises(fp.ParseError, match="nosuchthing") as info:
        fp.Pipeline("videotestsrc ! nosuchthing ! fakesink")
    assert isinstance(info.value, ValueError)
    assert info.value.token == "nosuchthing"


@pytest.mark.parametrize(
    "desc", ["", "   ", "videotestsrc ! ! fakesink", "videotestsrc ! fakesink nosuchprop=3"]
)
def test_bad_description_is_parse_error(desc):
    with pytest.raises(fp.ParseError):
        fp.Pipeline(desc)


def test_missing_file_names_the_filesrc():
    p = fp.Pipeline("filesrc name=reader location=/nonexistent/clip.mp4 ! fakesink")
    with pytest.raises(fp.PipelineError) as info:
        p.run(timeout=10)
    e = info.value
    assert e.element == "reader"
    assert e.path.endswith("reader") and e.path.startswith("/")
    assert e.message
    assert p.state == "NULL"


def test_missing_file_in_frames():
    p = fp.Pipeline("filesrc name=reader location=/nonexistent/clip.mp4 ! appsink name=out")
    with pytest.raises(fp.PipelineError) as info, p:
        list(p.frames("out"))
    assert info.value.element == "reader"


def test_caps_that_cannot_negotiate():
    p = fp.Pipeline(
        "appsrc name=src caps=video/x-raw,format=RGB,width=4,height=4,framerate=30/1 "
        "! video/x-raw,format=GRAY8 ! fakesink"
    )
    with pytest.raises(fp.NegotiationError) as info, p:
        p.push("src", np.zeros((4, 4, 3), np.uint8))
        p.end_of_stream("src")
        p.run(timeout=10)
    assert isinstance(info.value, fp.PipelineError)
    assert info.value.element == "src"
    assert p.state == "NULL"


def test_incompatible_link_is_negotiation_error():
    with pytest.raises(fp.NegotiationError, match=r"videotestsrc\d+"):
        fp.Pipeline("videotestsrc ! audioconvert ! fakesink")


def test_timeout_stops_the_pipeline():
    p = fp.Pipeline("videotestsrc is-live=true ! fakesink")
    with pytest.raises(TimeoutError):
        p.run(timeout=0.3)
    assert p.state == "NULL"
    p = fp.Pipeline("appsrc name=src ! appsink name=out")
    with pytest.raises(TimeoutError):
        p.pull("out", timeout=0.2)
    assert p.state == "NULL"


@pytest.mark.parametrize("timeout", [-1.0, float("nan")])
def test_bad_timeout(timeout):
    with pytest.raises(ValueError):
        fp.Pipeline("videotestsrc ! fakesink").run(timeout=timeout)


def test_unknown_sink_and_wrong_kind():
    with fp.Pipeline("videotestsrc name=vsrc num-buffers=1 ! appsink name=out") as p:
        with pytest.raises(KeyError, match="nosink"):
            p.pull("nosink")
        with pytest.raises(ValueError, match="not an appsink"):
            p.pull("vsrc")
        with pytest.raises(KeyError):
            p.element("nothere")


def test_element_properties():
    p = fp.Pipeline("videotestsrc name=src pattern=ball num-buffers=5 ! fakesink name=sink")
    src = p.element("src")
    assert (src.name, src.factory) == ("src", "videotestsrc")
    assert src.get("pattern") == "ball"
    assert src.get("num-buffers") == 5
    src.set("pattern", "snow")
    assert src.get("pattern") == "snow"
    src.set("num-buffers", 9)
    assert src.get("num-buffers") == 9
    src.set("is-live", True)
    assert src.get("is-live") is True
    with pytest.raises(TypeError):
        src.set("num-buffers", "many")
    with pytest.raises(TypeError):
        src.set("is-live", 1)
    with pytest.raises(ValueError):
        src.set("num-buffers", -5)
    with pytest.raises(ValueError, match="pattern"):
        src.set("pattern", "nosuchpattern")
    with pytest.raises(AttributeError):
        src.get("nosuchprop")
    props = {pi.name: pi for pi in src.properties()}
    nb = props["num-buffers"]
    assert (nb.type, nb.default, nb.minimum, nb.readable, nb.writable) == ("gint", -1, -1, True, True)
    assert nb.description
    assert props["pattern"].default == "smpte"


def test_messages_and_graph():
    p = fp.Pipeline("videotestsrc num-buffers=3 ! fakesink")
    p.run(timeout=10)
    msgs = list(p.messages())
    types = [m.type for m in msgs]
    assert "state-changed" in types and "eos" in types
    sc = next(m for m in msgs if m.type == "state-changed")
    assert {"old-state", "new-state"} <= set(sc.structure)
    assert "digraph" in p.graph()


def test_message_lists_are_python_lists_recursively():
    # level posts rms/peak/decay as GValueArrays (one value per channel).
    p = fp.Pipeline(
        "audiotestsrc num-buffers=10 samplesperbuffer=4410 ! audio/x-raw,channels=2,rate=44100 "
        "! level interval=50000000 post-messages=true ! fakesink sync=false"
    )
    p.run(timeout=10)
    levels = [m for m in p.messages() if m.type == "element" and m.name == "level"]
    assert levels
    rms = levels[0].structure["rms"]
    assert isinstance(rms, list) and len(rms) == 2
    assert all(isinstance(v, float) for v in rms)


def test_seek_position_duration():
    p = fp.Pipeline(
        "videotestsrc num-buffers=90 ! video/x-raw,framerate=30/1,width=32,height=24,format=RGB ! appsink name=out sync=false"
    )
    with p:
        p.seek(2.0)
        f = p.pull("out", timeout=10)
        assert f.time == pytest.approx(2.0)
        assert p.duration == pytest.approx(3.0)
        assert p.position is not None
        with pytest.raises(ValueError):
            p.seek(-1.0)


def test_gil_released_while_pulling():
    """A thread blocked in pull() must not hold the GIL: the other thread's work is what unblocks it, so holding the GIL would hang (and the join would time out)."""
    waiting = fp.Pipeline("appsrc name=src ! appsink name=out")
    busy = fp.Pipeline(RGB_SRC.format(n=50) + " sync=false")
    got = []

    def blocked_puller():
        got.append(waiting.pull("out", timeout=30))

    t = threading.Thread(target=blocked_puller)
    with waiting, busy:
        t.start()
        n = sum(1 for _ in busy.frames("out"))
        waiting.push("src", np.zeros((4, 4, 3), np.uint8))
        t.join(timeout=30)
    assert not t.is_alive()
    assert n == 50
    assert got[0] is not None and got[0].array.shape == (4, 4, 3)


def test_two_threads_pull_concurrently():
    results = {}

    def worker(k):
        with fp.Pipeline(RGB_SRC.format(n=40) + " sync=false") as p:
            results[k] = sum(int(f.array[0, 0, 0]) >= 0 for f in p.frames("out"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == {0: 40, 1: 40}
