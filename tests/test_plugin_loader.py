"""Python elements outside Python: gst-launch-1.0 and gst-inspect-1.0 load the modules of FRAMEPIPE_PLUGIN_PATH through framepipe's plugin file (subprocesses, scratch registry)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="needs gstreamer1.0-tools")

ELEMENTS = """
import numpy as np
import framepipe as fp


@fp.element("pyloaderinvert", classification="Filter/Effect/Video", description="Inverts, from a module")
class Invert(fp.Transform):
    caps = "video/x-raw,format={RGB,GRAY8}"
    strength = fp.Property(float, 1.0, minimum=0.0, maximum=1.0, description="Blend factor of the loader test")

    def transform_ip(self, frame):
        frame.array[...] = 255 - frame.array


@fp.element("pyloaderfail")
class Fail(fp.Transform):
    def transform_ip(self, frame):
        raise RuntimeError("raised inside gst-launch")


@fp.element("pyloadersink")
class WriteSink(fp.Sink):
    location = fp.Property(str, "", description="where to write what was seen")

    def start(self):
        self.values = []

    def render(self, frame):
        self.values.append(int(frame.array[0, 0, 0]))

    def stop(self):
        with open(self.location, "w") as f:
            f.write(" ".join(map(str, self.values)))
"""

BROKEN = """
import framepipe as fp
raise ImportError("this module is broken on purpose")
"""


def plugin_dir() -> str:
    r = subprocess.run(
        [sys.executable, "-m", "framepipe", "plugin-path"], capture_output=True, text=True, check=True
    )
    return r.stdout.strip()


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    d = tmp_path / "elements"
    d.mkdir()
    (d / "loadertest.py").write_text(ELEMENTS)
    return d


def gst_env(tmp_path: Path, modules: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FRAMEPIPE_PLUGIN_PATH"] = str(modules)
    env["GST_PLUGIN_PATH"] = plugin_dir()
    env["GST_REGISTRY"] = str(tmp_path / "registry.bin")
    env.pop("VIRTUAL_ENV", None)  # the plugin must find the venv's python on its own
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def criticals(stderr: str) -> list[str]:
    """GLib criticals and warnings (gst-python's "pygobject initialization failed" included: framepipe's plugin must coexist with Debian's gst-python loader in one scanner)."""
    return [line for line in stderr.splitlines() if "CRITICAL" in line or "WARNING **" in line]


def test_gst_inspect_shows_a_python_element(tmp_path, modules):
    r = run(["gst-inspect-1.0", "pyloaderinvert"], gst_env(tmp_path, modules))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Inverts, from a module" in r.stdout
    assert "strength" in r.stdout and "Blend factor of the loader test" in r.stdout
    assert re.search(r"Double\. Range: +0 - +1 Default: +1", r.stdout), r.stdout
    assert not criticals(r.stderr), r.stderr


def test_gst_launch_runs_python_elements(tmp_path, modules):
    out = tmp_path / "seen.txt"
    desc = f"videotestsrc num-buffers=3 pattern=black ! video/x-raw,format=RGB ! pyloaderinvert ! pyloadersink location={out}"
    r = run(["gst-launch-1.0", "-q", *desc.split()], gst_env(tmp_path, modules))
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_text() == "255 255 255"


# gst-launch-1.0 1.22 itself sometimes hangs after an ERROR when its sink is still
# prerolling (`gst-launch-1.0 videotestsrc num-buffers=5 ! identity error-after=1 ! fakesink`
# hangs in a few runs of 30, with no framepipe element): its main loop waits for an
# ASYNC_DONE that never comes. A sink with async=false has no preroll to wait for, which
# makes these runs deterministic.
def test_gst_launch_reports_a_python_exception_naming_the_element(tmp_path, modules):
    args = [
        "gst-launch-1.0",
        "videotestsrc",
        "num-buffers=3",
        "!",
        "pyloaderfail",
        "name=bad",
        "!",
        "fakesink",
    ]
    r = run([*args, "async=false"], gst_env(tmp_path, modules), timeout=30)
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "bad" in text and "raised inside gst-launch" in text


def test_gst_launch_reports_a_bad_property_value_by_name(tmp_path, modules):
    r = run(
        [
            "gst-launch-1.0",
            "videotestsrc",
            "num-buffers=3",
            "!",
            "video/x-raw,format=RGB",
            "!",
            "pyloaderinvert",
            "strength=3",
            "!",
            "fakesink",
            "async=false",
        ],
        gst_env(tmp_path, modules),
    )
    assert r.returncode != 0
    assert 'could not set property "strength"' in r.stdout + r.stderr


def test_a_module_that_fails_to_import_is_reported_with_its_traceback(tmp_path, modules):
    (modules / "broken.py").write_text(BROKEN)
    r = run(["gst-inspect-1.0", "pyloaderinvert"], gst_env(tmp_path, modules))
    assert r.returncode == 0, r.stdout + r.stderr  # the other module still loads
    assert "broken.py" in r.stderr
    assert "Traceback" in r.stderr and "this module is broken on purpose" in r.stderr


def test_framepipe_inspect_shows_a_python_elements_properties(tmp_path, modules):
    r = run([sys.executable, "-m", "framepipe", "inspect", "pyloaderinvert"], gst_env(tmp_path, modules))
    assert r.returncode == 0, r.stderr
    assert "strength" in r.stdout and "Blend factor of the loader test" in r.stdout
    assert "Range: 0.0 - 1.0" in r.stdout


IN_PROCESS = """
import sys
import framepipe as fp
from framepipe.elements import load_modules
import numpy as np
# The module is imported in-process first; then GStreamer loads framepipe's plugin file
# too (an element only it can provide forces the load): types must not be registered twice.
load_modules(sys.argv[1])
with fp.Pipeline("videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=8,height=8 ! pyloaderinvert ! "
                 "fpoverlay ! appsink name=out") as p:
    frames = [f.array.copy() for f in p.frames("out")]
assert len(frames) == 2
import ctypes
gst = ctypes.CDLL("libgstreamer-1.0.so.0")
gst.gst_plugin_load_by_name.restype = ctypes.c_void_p
plugin = gst.gst_plugin_load_by_name(b"framepipe")
print("plugin file loaded:", bool(plugin))
with fp.Pipeline("videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=8,height=8 ! pyloaderinvert ! "
                 "fpoverlay ! appsink name=out") as p:
    assert len(list(p.frames("out"))) == 2
print("ok")
"""


def test_no_double_registration_with_the_plugin_on_the_path_in_python(tmp_path, modules):
    env = gst_env(tmp_path, modules)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(IN_PROCESS), str(modules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout
    assert not criticals(r.stderr), r.stderr
    assert "already" not in r.stderr, r.stderr


def test_gst_launch_runs_the_audiotestsrc_example(tmp_path):
    env = gst_env(tmp_path, ROOT / "examples" / "audiotestsrc.py")
    r = run(
        [
            "gst-launch-1.0",
            "pyaudiotestsrc",
            "freq=880",
            "num-buffers=5",
            "!",
            "audioconvert",
            "!",
            "fakesink",
        ],
        env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["gst-inspect-1.0", "pyaudiotestsrc"], env)
    assert "Frequency of test signal" in r.stdout and "is-live" in r.stdout


GST_PYTHON_ELEMENT = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
from gi.repository import Gst, GObject, GstBase
Gst.init(None)


class GpyIdent(GstBase.BaseTransform):
    __gstmetadata__ = ("gpyident", "Filter", "identity written with gst-python", "framepipe tests")
    __gsttemplates__ = (
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
    )

    def do_transform_ip(self, buf):
        return Gst.FlowReturn.OK


GObject.type_register(GpyIdent)
__gstelementfactory__ = ("gpyident", Gst.Rank.NONE, GpyIdent)
"""


def gst_python_plugin() -> Path | None:
    for d in ("/usr/lib/x86_64-linux-gnu/gstreamer-1.0", "/usr/lib/aarch64-linux-gnu/gstreamer-1.0"):
        if (Path(d) / "libgstpython.so").exists():
            return Path(d) / "libgstpython.so"
    return None


@pytest.mark.skipif(gst_python_plugin() is None, reason="needs gstreamer1.0-python3-plugin-loader")
def test_framepipe_and_gst_python_share_one_registry_scan(tmp_path, modules):
    # One fresh registry, both loaders scanned by one gst-plugin-scanner (framepipe's plugin
    # first, as GST_PLUGIN_PATH comes before the system directory): gst-python's elements
    # and framepipe's must both be registered, with no CRITICAL (gst-python used to log
    # "pygobject initialization failed" and cache its plugin with no features).
    gpy = tmp_path / "gstpy"
    (gpy / "python").mkdir(parents=True)
    (gpy / "python" / "gpyident.py").write_text(GST_PYTHON_ELEMENT)
    env = gst_env(tmp_path, modules)
    env["GST_PLUGIN_PATH"] = f"{plugin_dir()}{os.pathsep}{gpy}"
    # As from a shell without the virtualenv activated: gst-python's plugin embeds the
    # python3 it finds on PATH, and with a venv of another Python build first on PATH it
    # fails with "pygobject initialization failed" on its own, framepipe or not.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    r = run(["gst-inspect-1.0", "python"], env)  # lists the plugin's features, creates none
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gpyident" in r.stdout, r.stdout + r.stderr
    assert not criticals(r.stderr), r.stderr
    r = run(["gst-inspect-1.0", "pyloaderinvert"], env)  # from the same cached registry
    assert r.returncode == 0 and "Inverts, from a module" in r.stdout, r.stdout + r.stderr
    assert not criticals(r.stderr), r.stderr
    # Both kinds of Python element in one gst-launch-1.0. Creating a gst-python element
    # makes gst-python 1.22 itself log "The created element should be floating" (it does
    # without framepipe too), so criticals are not fatal here and that one is let through.
    env.pop("G_DEBUG", None)
    desc = "videotestsrc num-buffers=3 ! video/x-raw,format=RGB ! gpyident ! pyloaderinvert ! fakesink async=false"
    r = run(["gst-launch-1.0", "-q", *desc.split()], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [c for c in criticals(r.stderr) if "should be floating" not in c] == [], r.stderr


@pytest.mark.skipif(gst_python_plugin() is None, reason="needs gstreamer1.0-python3-plugin-loader")
def test_import_in_an_activated_venv_scans_without_critical(tmp_path):
    # A fresh registry and this venv first on PATH, as for a user who activated it: the scan
    # that `import framepipe` starts must not let gst-python embed the venv's python3.
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "GST_REGISTRY": str(tmp_path / "registry.bin"),
    }
    env.pop("G_DEBUG", None)  # a CRITICAL must show up in stderr, not abort the scanner
    code = (
        "import os, framepipe as fp; "
        "fp.Pipeline('videotestsrc num-buffers=2 ! fakesink').run(timeout=30); "
        "print(os.environ['PATH'].split(os.pathsep)[0])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not criticals(r.stderr), r.stderr
    assert r.stdout.strip() == venv_bin, "the process's PATH is given back"
