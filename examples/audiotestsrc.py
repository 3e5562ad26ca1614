r"""An audio test source written in Python: a sine wave with frequency, volume, mute and live mode, in F32LE or S16LE (the first element of the "writing GStreamer elements in Python" series, ported to framepipe).

In-process::

    python examples/audiotestsrc.py            # prints the frequency it measures

From gst-launch-1.0::

    FRAMEPIPE_PLUGIN_PATH=examples/audiotestsrc.py GST_PLUGIN_PATH=$(python -m framepipe plugin-path) \
        gst-launch-1.0 pyaudiotestsrc freq=880 num-buffers=100 ! audioconvert ! autoaudiosink
"""

from __future__ import annotations

import re

import framepipe as fp
import numpy as np

SAMPLES_PER_BUFFER = 1024


@fp.element(
    "pyaudiotestsrc",
    classification="Source/Audio",
    description="Sine wave test source written in Python",
    author="framepipe",
)
class AudioTestSrc(fp.Source):
    """Sine wave test source written in Python."""

    src_caps = "audio/x-raw,format={F32LE,S16LE},layout=interleaved,rate=[1,2147483647],channels=[1,8]"

    freq = fp.Property(int, 440, minimum=1, maximum=2**31 - 1, description="Frequency of test signal (Hz)")
    volume = fp.Property(float, 0.8, minimum=0.0, maximum=1.0, description="Volume of test signal")
    mute = fp.Property(bool, False, description="Mute the test signal")
    is_live = fp.Property(bool, False, description="Whether to act as a live source")

    def __init__(self) -> None:
        self.rate = 44_100
        self.channels = 1
        self.dtype: type[np.generic] = np.float32
        self.phase = 0.0

    def start(self) -> None:
        self.phase = 0.0

    def set_caps(self, caps: str) -> None:
        def field(name: str) -> str:
            m = re.search(rf"{name}=\(\w+\)([\w.]+)", caps)
            if m is None:
                raise ValueError(f"no {name} in the negotiated caps {caps}")
            return m.group(1)

        self.rate = int(field("rate"))
        self.channels = int(field("channels"))
        self.dtype = np.float32 if field("format") == "F32LE" else np.int16

    def create(self) -> np.ndarray:
        n = SAMPLES_PER_BUFFER
        if self.mute:
            wave = np.zeros(n)
        else:
            step = 2 * np.pi * self.freq / self.rate
            wave = np.sin(self.phase + step * np.arange(n)) * self.volume
            self.phase = (self.phase + step * n) % (2 * np.pi)
        if self.dtype is np.int16:
            wave = np.round(wave * 32767)
        # (samples, channels): the host packs it and stamps it from the sample rate.
        return np.repeat(wave[:, None], self.channels, axis=1).astype(self.dtype)


def main() -> None:
    desc = "pyaudiotestsrc freq=1000 volume=0.5 num-buffers=44 ! audio/x-raw,rate=44100 ! appsink name=out"
    with fp.Pipeline(desc) as p:
        samples = np.concatenate([f.array[:, 0] for f in p.frames("out")])
    spectrum = np.abs(np.fft.rfft(samples))
    peak = np.fft.rfftfreq(len(samples), 1 / 44_100)[spectrum.argmax()]
    print(f"{len(samples)} samples, peak at {peak:.0f} Hz, amplitude {np.abs(samples).max():.3f}")


if __name__ == "__main__":
    main()
