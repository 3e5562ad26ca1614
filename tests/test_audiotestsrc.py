"""examples/audiotestsrc.py: seed 001's audio test source, written with framepipe."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import framepipe as fp
import numpy as np
import pytest

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "audiotestsrc.py"
RATE = 44_100


@pytest.fixture(scope="module", autouse=True)
def example_module():
    spec = importlib.util.spec_from_file_location("audiotestsrc_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audiotestsrc_example"] = module
    spec.loader.exec_module(module)
    return module


def samples(settings: str = "", buffers: int = 44, caps: str = f"audio/x-raw,rate={RATE}") -> list[fp.Frame]:
    desc = f"pyaudiotestsrc {settings} num-buffers={buffers} ! {caps} ! appsink name=out"
    with fp.Pipeline(desc) as p:
        return list(p.frames("out"))


def peak_hz(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("freq", [440, 1000, 3000])
def test_the_sine_has_the_requested_frequency(freq):
    frames = samples(f"freq={freq}")
    x = np.concatenate([f.array[:, 0] for f in frames])
    assert frames[0].format == "F32LE" and frames[0].rate == RATE
    assert abs(peak_hz(x) - freq) < 2.0


def test_volume_scales_the_amplitude():
    for volume in (0.8, 0.25):
        x = np.concatenate([f.array[:, 0] for f in samples(f"volume={volume}", buffers=10)])
        assert abs(np.abs(x).max() - volume) < 0.01


def test_mute_gives_silence():
    x = np.concatenate([f.array for f in samples("mute=true", buffers=5)])
    assert x.shape == (5 * 1024, 1) and not x.any()


def test_s16le_and_stereo():
    frames = samples("volume=0.5", buffers=10, caps=f"audio/x-raw,format=S16LE,rate={RATE},channels=2")
    x = np.concatenate([f.array for f in frames])
    assert x.dtype == np.int16 and x.shape == (10 * 1024, 2)
    assert np.array_equal(x[:, 0], x[:, 1])
    assert abs(int(np.abs(x).max()) - 16384) < 200
    assert abs(peak_hz(x[:, 0].astype(np.float64)) - 440) < 2.0


def test_timestamps_follow_the_sample_rate():
    frames = samples(buffers=5)
    assert [f.pts for f in frames] == [i * 1024 * fp.SECOND // RATE for i in range(5)]
    assert frames[1].duration in (1024 * fp.SECOND // RATE, 1024 * fp.SECOND // RATE + 1)


def test_live_mode_runs_in_real_time():
    desc = "pyaudiotestsrc is-live={live} num-buffers=20 ! audio/x-raw,rate=44100 ! fakesink sync={live}"
    t = time.perf_counter()
    fp.Pipeline(desc.format(live="true")).run(timeout=10)
    live = time.perf_counter() - t
    assert live >= 20 * 1024 / RATE * 0.9  # about 0.46 s of audio, paced by the clock
    t = time.perf_counter()
    fp.Pipeline(desc.format(live="false")).run(timeout=10)
    assert time.perf_counter() - t < live / 2


def test_properties_are_declared_like_the_seed():
    props = {p.name: p for p in fp._framepipe.describe_factory("pyaudiotestsrc")["properties"]}
    assert (props["freq"].default, props["freq"].minimum) == (440, 1)
    assert (props["volume"].default, props["volume"].maximum) == (0.8, 1.0)
    assert props["mute"].default is False and props["is-live"].default is False
    with pytest.raises(fp.ParseError, match="volume"):
        fp.Pipeline("pyaudiotestsrc volume=2 ! fakesink")


def test_the_example_runs():
    r = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "peak at 1000 Hz" in r.stdout
