//! The plugin file as gst-inspect-1.0 loads it: it embeds Python, imports `framepipe` and
//! calls `framepipe._plugin_load(<GstPlugin address>)`. A stand-in `framepipe` package
//! (written by each test) plays the part of the real one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// target/<profile>/libframepipe_gst_loader.so, built with the tests (installed as libgstframepipe.so).
fn plugin_file() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let lib = dir.join("libframepipe_gst_loader.so");
    assert!(lib.exists(), "{} is missing", lib.display());
    lib
}

/// A scratch directory with the plugin, a fresh registry and a Python package dir.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let root = std::env::temp_dir().join(format!("fp-loader-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("plugins")).unwrap();
        std::fs::create_dir_all(root.join("py")).unwrap();
        std::os::unix::fs::symlink(plugin_file(), root.join("plugins/libgstframepipe.so")).unwrap();
        Scratch { root }
    }

    /// Writes a stand-in `framepipe/__init__.py`.
    fn framepipe(&self, source: &str) {
        std::fs::create_dir_all(self.root.join("py/framepipe")).unwrap();
        std::fs::write(self.root.join("py/framepipe/__init__.py"), source).unwrap();
    }

    fn inspect(&self, args: &[&str]) -> Output {
        self.inspect_with(args, &[])
    }

    fn inspect_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new("gst-inspect-1.0")
            .args(args)
            .env("GST_PLUGIN_PATH", self.root.join("plugins"))
            .env("GST_PLUGIN_SYSTEM_PATH", self.root.join("none"))
            .env("GST_REGISTRY", self.root.join("registry.bin"))
            .env("PYTHONPATH", self.root.join("py"))
            .env_remove("FRAMEPIPE_PYTHON")
            .env_remove("VIRTUAL_ENV")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

/// The interpreter the plugin was built against, without its virtualenv: the same
/// libpython, but none of the venv's packages (framepipe among them, when the build ran
/// inside the project's .venv as `make` does).
fn base_python() -> String {
    let out = Command::new(env!("FRAMEPIPE_BUILD_PYTHON"))
        .args(["-c", "import os, sys; print(os.path.join(sys.base_prefix, 'bin', 'python3'))"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn have_gst_inspect() -> bool {
    Command::new("gst-inspect-1.0").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// gst-inspect-1.0's (successful) output on the framepipe plugin, with `source` as the
/// framepipe module; None where gst-inspect-1.0 is not installed.
fn inspect_with_module(name: &str, source: &str) -> Option<(String, String)> {
    if !have_gst_inspect() {
        return None;
    }
    let scratch = Scratch::new(name);
    scratch.framepipe(source);
    let out = scratch.inspect(&["framepipe"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    Some((stdout, stderr))
}

#[test]
fn without_framepipe_the_plugin_loads_empty_with_a_warning() {
    if !have_gst_inspect() {
        return;
    }
    let scratch = Scratch::new("absent");
    let python = base_python();
    let out = scratch.inspect_with(&["framepipe"], &[("FRAMEPIPE_PYTHON", &python)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 features"), "{stdout}");
    assert!(stderr.contains("cannot import framepipe"), "{stderr}");
    assert!(stderr.contains("FRAMEPIPE_PYTHON"), "{stderr}");
}

/// The stand-in registers a factory for GstBin through the plugin address it is given,
/// so the element shows up only if the address really is the GstPlugin.
const REGISTERING: &str = r#"
import ctypes, sys
_gst = ctypes.CDLL("libgstreamer-1.0.so.0")
_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_gobject.g_type_from_name.restype = ctypes.c_size_t
_gobject.g_type_from_name.argtypes = [ctypes.c_char_p]
_gst.gst_plugin_get_name.restype = ctypes.c_char_p
_gst.gst_plugin_get_name.argtypes = [ctypes.c_void_p]
_gst.gst_element_register.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_size_t]

def _plugin_load(plugin):
    assert isinstance(plugin, int)
    name = _gst.gst_plugin_get_name(plugin).decode()
    sys.stderr.write("stand-in framepipe loaded into plugin %s\n" % name)
    ok = _gst.gst_element_register(plugin, b"fploadertest", 0, _gobject.g_type_from_name(b"GstBin"))
    assert ok
"#;

#[test]
fn the_loader_hands_the_plugin_to_framepipe_plugin_load() {
    if !have_gst_inspect() {
        return;
    }
    let scratch = Scratch::new("stand-in");
    scratch.framepipe(REGISTERING);
    let out = scratch.inspect(&["framepipe"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("stand-in framepipe loaded into plugin framepipe"), "{stderr}");
    assert!(stdout.contains("fploadertest"), "{stdout}");
    assert!(stdout.contains("1 features"), "{stdout}");
    // From the registry cache this time, then loading the plugin in-process to make one.
    let out = scratch.inspect(&["fploadertest"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Plugin Details") && stdout.contains("framepipe"), "{stdout}");
}

/// An exception in `_plugin_load` is printed with its traceback, and `sys.exit()` there does
/// not end gst-inspect-1.0 (which succeeds either way).
#[test]
fn failures_in_plugin_load_are_reported_and_the_scan_goes_on() {
    // (scratch name, framepipe module source, what stdout and stderr must contain)
    let cases: [(&str, &str, &[&str], &[&str]); 2] = [
        (
            "raising",
            "def _plugin_load(plugin):\n    raise ValueError('broken module ' + str(plugin > 0))\n",
            &[],
            &["Traceback (most recent call last)", "ValueError: broken module True"],
        ),
        ("exiting", "import sys\ndef _plugin_load(plugin):\n    sys.exit(3)\n", &["Plugin Details"], &["SystemExit"]),
    ];
    for (name, source, out, err) in cases {
        let Some((stdout, stderr)) = inspect_with_module(name, source) else { return };
        for o in out {
            assert!(stdout.contains(o), "{name}: {stdout}");
        }
        for e in err {
            assert!(stderr.contains(e), "{name}: {stderr}");
        }
    }
}

#[test]
fn plugin_file_exists() {
    assert!(Path::new(&plugin_file()).exists());
}

/// Inside a Python process (here driving GStreamer through ctypes) the loader joins the
/// running interpreter instead of starting a second one.
#[test]
fn inside_python_the_running_interpreter_is_used() {
    if !have_gst_inspect() {
        return;
    }
    let scratch = Scratch::new("in-python");
    scratch.framepipe(&format!("{REGISTERING}\nimport builtins\nbuiltins.FRAMEPIPE_MARK = 'same interpreter'\n"));
    let script = r#"
import ctypes, sys, builtins
gst = ctypes.CDLL("libgstreamer-1.0.so.0")
gst.gst_init(None, None)
gst.gst_element_factory_make.restype = ctypes.c_void_p
gst.gst_element_factory_make.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
element = gst.gst_element_factory_make(b"fploadertest", None)
assert element, "fploadertest was not made"
print("made", builtins.FRAMEPIPE_MARK)
"#;
    let python = std::env::var("FRAMEPIPE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args(["-c", script])
        .env("GST_PLUGIN_PATH", scratch.root.join("plugins"))
        .env("GST_PLUGIN_SYSTEM_PATH", scratch.root.join("none"))
        .env("GST_REGISTRY", scratch.root.join("registry.bin"))
        .env("PYTHONPATH", scratch.root.join("py"))
        .output();
    let Ok(out) = out else { return };
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("made same interpreter"), "{stdout}\n{stderr}");
}

/// FRAMEPIPE_PYTHON names a virtualenv's python: its site-packages are importable.
#[test]
fn the_embedded_interpreter_sees_the_virtualenv_packages() {
    let Some(python) = option_env!("FRAMEPIPE_BUILD_PYTHON").filter(|p| !p.is_empty()) else { return };
    if !have_gst_inspect() {
        return;
    }
    let scratch = Scratch::new("venv");
    let venv = scratch.root.join("venv");
    let made = Command::new(python).args(["-m", "venv", "--without-pip"]).arg(&venv).status();
    if !made.is_ok_and(|s| s.success()) {
        return;
    }
    let version =
        Command::new(python).args(["-c", "import sys; print('python%d.%d' % sys.version_info[:2])"]).output().unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let site = venv.join("lib").join(version.trim()).join("site-packages").join("framepipe");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("__init__.py"),
        format!("{REGISTERING}\nimport sys\nsys.stderr.write('prefix=%s\\n' % sys.prefix)\n"),
    )
    .unwrap();
    let out = Command::new("gst-inspect-1.0")
        .arg("framepipe")
        .env("GST_PLUGIN_PATH", scratch.root.join("plugins"))
        .env("GST_PLUGIN_SYSTEM_PATH", scratch.root.join("none"))
        .env("GST_REGISTRY", scratch.root.join("registry.bin"))
        .env("FRAMEPIPE_PYTHON", venv.join("bin/python"))
        .env_remove("PYTHONPATH")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("fploadertest"), "{stdout}\n{stderr}");
    assert!(stderr.contains(&format!("prefix={}", venv.display())), "{stderr}");
}
