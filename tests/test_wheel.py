"""The package a user installs: the wheel maturin builds, installed into a fresh virtualenv, carries everything, the plugin file for gst-launch-1.0 included (no `make`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT

pytestmark = [
    pytest.mark.slow,
    # Building the wheel relinks the extension module (thin LTO): minutes on a busy machine.
    pytest.mark.timeout(1500),
    pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="needs gstreamer1.0-tools"),
]

MODULE = """
import framepipe as fp


@fp.element("pywheelcount", classification="Filter/Video", description="Counts frames, from a wheel")
class Count(fp.Transform):
    caps = "video/x-raw,format=RGB"

    def start(self):
        self.n = 0

    def transform_ip(self, frame):
        self.n += 1

    def stop(self):
        print(f"pywheelcount saw {self.n} frames with framepipe from {fp.__file__}", flush=True)
"""


def link_numpy(site: Path) -> None:
    """Numpy for the fresh environment without the network: the project's own copy."""
    source = Path(np.__file__).resolve().parents[1]
    for entry in source.iterdir():
        if entry.name == "numpy" or entry.name.startswith(("numpy-", "numpy.libs")):
            (site / entry.name).symlink_to(entry)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    maturin = Path(sys.executable).with_name("maturin")
    build = subprocess.run(
        [str(maturin), "build", "--release", "--quiet", "-o", str(tmp / "dist")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("framepipe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "framepipe/gst-plugins/libgstframepipe.so" in names, names
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3.*/site-packages"))
    link_numpy(site)
    # The project venv's pip installs into the fresh one (--python), offline.
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin/python"),
            "install",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "FRAMEPIPE_PYTHON", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return {**env, **extra}


def test_wheel_gives_the_package_and_its_plugin_path(installed):
    def python(*args: str) -> subprocess.CompletedProcess[str]:
        # Outside the repository, with the environment of a fresh shell.
        cmd = [str(installed / "bin/python"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env(), cwd="/")

    out = python("-c", "import framepipe, sys; print(framepipe.__file__)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(installed)), out.stdout
    path = python("-m", "framepipe", "plugin-path")
    assert path.returncode == 0, path.stderr
    assert (Path(path.stdout.strip()) / "libgstframepipe.so").is_file()


def test_gst_launch_runs_a_python_element_from_the_wheel(installed, tmp_path):
    module = tmp_path / "wheelcount.py"
    module.write_text(textwrap.dedent(MODULE))
    plugins = next(installed.glob("lib/python3.*/site-packages/framepipe/gst-plugins"))
    # No VIRTUAL_ENV and no FRAMEPIPE_PYTHON: the plugin file finds the environment it is
    # installed in by itself.
    env = clean_env(
        GST_PLUGIN_PATH=str(plugins),
        GST_REGISTRY=str(tmp_path / "registry.bin"),
        FRAMEPIPE_PLUGIN_PATH=str(module),
    )
    out = subprocess.run(
        [
            "gst-launch-1.0",
            "-q",
            "videotestsrc",
            "num-buffers=12",
            "!",
            "video/x-raw,format=RGB,width=64,height=48",
            "!",
            "pywheelcount",
            "!",
            "fpoverlay",
            "!",
            "fakesink",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"pywheelcount saw 12 frames with framepipe from {installed}" in out.stdout, (
        out.stdout + out.stderr
    )
    assert "CRITICAL" not in out.stderr, out.stderr
