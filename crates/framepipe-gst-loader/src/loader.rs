//! The loader that makes Python-written elements visible to gst-launch-1.0 and
//! gst-inspect-1.0. When GStreamer loads the plugin file, `plugin_init` lands here: start
//! (or join) a CPython interpreter without linking to it, then hand the plugin to
//! `framepipe._plugin_load`, which registers the elements of the modules in
//! FRAMEPIPE_PLUGIN_PATH as features of this plugin.
//!
//! ```text
//! FRAMEPIPE_PLUGIN_PATH=examples/audiotestsrc.py GST_PLUGIN_PATH=$(python -m framepipe plugin-path) gst-inspect-1.0 pyaudiotestsrc
//! ```
//!
//! The contract with the Python side: after importing `framepipe` (with the GIL held, on
//! the thread that loads the plugin), the loader calls `framepipe._plugin_load(address)`
//! once per plugin load, `address` being the `GstPlugin*` as an int (valid during the
//! call; `gstframepipe::host::plugin_from_address` turns it into a `gst::Plugin`). It must
//! register, as features of that plugin, the built-in elements (`gstframepipe::register`)
//! and every element of the modules listed in FRAMEPIPE_PLUGIN_PATH (`os.pathsep`-separated
//! `.py` files or directories of them), via `register_element(Some(&plugin), ..)`, printing
//! the traceback of a module that fails to import and going on with the others. Whatever
//! it raises is printed with its traceback; it cannot end the process.
//!
//! The plugin never registers a type of its own: every GType comes from the copy of the
//! element code inside framepipe's extension module, so a process that also imported
//! framepipe has one copy of each type.
//!
//! Which Python: `FRAMEPIPE_PYTHON` (a python executable, typically a virtualenv's), else
//! `$VIRTUAL_ENV/bin/python`, else the interpreter recorded when the plugin was built.
//! Which libpython: `FRAMEPIPE_LIBPYTHON`, else the one recorded at build time when the
//! interpreter is the recorded one, else what that interpreter's sysconfig names.

use std::ffi::{CStr, CString, OsStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};

/// The Python function the loader calls, with the address of the `GstPlugin` (an int).
pub const ENTRY_POINT: &str = "_plugin_load";

const BUILD_PYTHON: &str = env!("FRAMEPIPE_BUILD_PYTHON");
const BUILD_LIBPYTHON: &str = env!("FRAMEPIPE_BUILD_LIBPYTHON");

/// Prints what went wrong where a gst-launch-1.0 user sees it.
fn warn(message: &str) {
    eprintln!("framepipe plugin: {message}");
}

/// Traces the loader's choices on stderr when FRAMEPIPE_LOADER_DEBUG is set.
fn debug(message: &str) {
    if std::env::var_os("FRAMEPIPE_LOADER_DEBUG").is_some() {
        eprintln!("framepipe plugin: {message}");
    }
}

/// The plugin file's own path, as GStreamer loaded it.
fn plugin_filename(plugin: *mut gst_sys::GstPlugin) -> Option<PathBuf> {
    // SAFETY: `plugin` is the live GstPlugin GStreamer passed to plugin_init; the returned
    // string belongs to it and is copied before the call returns.
    let name = unsafe { gst_sys::gst_plugin_get_filename(plugin) };
    if name.is_null() {
        return None;
    }
    // SAFETY: GStreamer returns a NUL-terminated file name.
    let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
    Some(PathBuf::from(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes)))
}

/// Loads the Python elements into `plugin`. Never fails: without Python or framepipe the
/// plugin stays empty and a warning says why.
pub(crate) fn load(plugin: *mut gst_sys::GstPlugin) {
    // Changes to the modules, to which modules, or to which Python make GStreamer rescan.
    // SAFETY: `plugin` is live; the strings are NUL-terminated literals GStreamer copies.
    unsafe {
        gst_sys::gst_plugin_add_dependency_simple(
            plugin,
            c"FRAMEPIPE_PLUGIN_PATH".as_ptr(),
            std::ptr::null(),
            c".py".as_ptr(),
            gst_sys::GST_PLUGIN_DEPENDENCY_FLAG_FILE_NAME_IS_SUFFIX,
        );
        gst_sys::gst_plugin_add_dependency_simple(
            plugin,
            c"FRAMEPIPE_PYTHON:FRAMEPIPE_LIBPYTHON:VIRTUAL_ENV".as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            gst_sys::GST_PLUGIN_DEPENDENCY_FLAG_NONE,
        );
    }

    static LOADING: Mutex<()> = Mutex::new(());
    let _guard = LOADING.lock().unwrap_or_else(PoisonError::into_inner);
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let own = plugin_filename(plugin).and_then(|f| python_beside(&f));
    let python = choose_python(&env, own.as_deref());
    let api = match python_api(python.as_deref(), &env) {
        Ok(api) => api,
        Err(why) => {
            warn(&format!("{why}; no Python elements registered (set FRAMEPIPE_PYTHON to a python with framepipe)"));
            return;
        }
    };
    let address = plugin as usize;
    let code = match CString::new(bootstrap(address, python.as_deref().unwrap_or(""))) {
        Ok(code) => code,
        Err(_) => return warn("the loader's bootstrap code contains a NUL byte"),
    };
    debug(&format!("calling framepipe.{ENTRY_POINT}({address:#x}) with {python:?}"));
    // SAFETY: the function pointers come from a loaded libpython (kept loaded for the
    // process's lifetime) and are called as the C API documents: initialise once, run
    // code only while holding the GIL, release it afterwards.
    let status = unsafe {
        if (api.is_initialized)() != 0 {
            let gil = (api.gil_ensure)();
            let status = (api.run_simple_string)(code.as_ptr());
            (api.gil_release)(gil);
            status
        } else {
            if let (Some(set_program_name), Some(decode_locale), Some(python)) =
                (api.set_program_name, api.decode_locale, python.as_deref().and_then(|p| CString::new(p).ok()))
            {
                // Python finds the virtualenv (pyvenv.cfg) from the program name. The wide
                // string must outlive the interpreter: it is never freed.
                let wide = decode_locale(python.as_ptr(), std::ptr::null_mut());
                if !wide.is_null() {
                    set_program_name(wide);
                }
            }
            // 0: leave SIGINT to GStreamer's tools.
            (api.initialize_ex)(0);
            let status = (api.run_simple_string)(code.as_ptr());
            // Release the GIL so that streaming threads can take it.
            (api.save_thread)();
            status
        }
    };
    if status != 0 {
        warn("the loader's bootstrap code failed (the traceback is above)");
    }
}

/// The python executable to embed: FRAMEPIPE_PYTHON, else the one of the environment this
/// plugin file is installed in (`own`), else the active virtualenv's, else the one recorded
/// at build time.
pub(crate) fn choose_python(env: &dyn Fn(&str) -> Option<String>, own: Option<&str>) -> Option<String> {
    env("FRAMEPIPE_PYTHON")
        .or_else(|| own.map(str::to_string))
        .or_else(|| env("VIRTUAL_ENV").map(|venv| format!("{venv}/bin/python")))
        .or_else(|| Some(BUILD_PYTHON.to_string()).filter(|p| !p.is_empty()))
}

/// The python of the environment a plugin file installed with framepipe lives in: a
/// virtualenv (`<venv>/lib/python3.X/site-packages/framepipe/gst-plugins/...`, found by its
/// pyvenv.cfg) or a prefix (`<prefix>/lib/python3.X/...` -> `<prefix>/bin/python3.X`). None
/// for a plugin file outside any site-packages (a source checkout).
pub(crate) fn python_beside(plugin_file: &Path) -> Option<String> {
    let site = plugin_file.ancestors().find(|d| d.file_name().is_some_and(|n| n == "site-packages"))?;
    let version_dir = site.parent()?;
    let version = version_dir.file_name()?.to_str()?.to_string();
    let prefix = version_dir.parent()?.parent()?;
    if prefix.join("pyvenv.cfg").exists() {
        let python = prefix.join("bin/python");
        return python.exists().then(|| python.to_string_lossy().into_owned());
    }
    let python = prefix.join("bin").join(&version);
    python.exists().then(|| python.to_string_lossy().into_owned())
}

/// The libpython to load for `python`. `query` asks an interpreter for its sysconfig (a
/// subprocess; only needed for an interpreter other than the recorded one).
pub(crate) fn libpython_for(
    python: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    query: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if let Some(lib) = env("FRAMEPIPE_LIBPYTHON") {
        return Ok(lib);
    }
    let Some(python) = python else {
        return Err("no Python interpreter known (FRAMEPIPE_PYTHON is unset and none was found at build time)".into());
    };
    if !BUILD_LIBPYTHON.is_empty() && same_file(python, BUILD_PYTHON) {
        return Ok(BUILD_LIBPYTHON.to_string());
    }
    query(python).ok_or_else(|| {
        format!("{python} did not say where its libpython is (is it a Python >= 3.11 built with --enable-shared?)")
    })
}

fn same_file(a: &str, b: &str) -> bool {
    a == b || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Asks `python` for the path of its shared libpython.
fn query_libpython(python: &str) -> Option<String> {
    const QUERY: &str = "import sysconfig, os; v = sysconfig.get_config_var; \
        lib = v('INSTSONAME') if '.so' in (v('INSTSONAME') or '') else v('LDLIBRARY'); \
        print(os.path.join(v('LIBDIR') or '', lib or '') if lib and '.so' in lib else '')";
    let out = Command::new(python).args(["-c", QUERY]).output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    if !out.status.success() || path.is_empty() {
        return None;
    }
    if Path::new(&path).exists() {
        Some(path)
    } else {
        // Not where sysconfig says (relocated install): let the dynamic loader search.
        Path::new(&path).file_name().map(|n| n.to_string_lossy().into_owned())
    }
}

type IsInitialized = unsafe extern "C" fn() -> c_int;
type InitializeEx = unsafe extern "C" fn(c_int);
type SetProgramName = unsafe extern "C" fn(*const c_void);
type DecodeLocale = unsafe extern "C" fn(*const c_char, *mut usize) -> *mut c_void;
type GilEnsure = unsafe extern "C" fn() -> c_int;
type GilRelease = unsafe extern "C" fn(c_int);
type SaveThread = unsafe extern "C" fn() -> *mut c_void;
type RunSimpleString = unsafe extern "C" fn(*const c_char) -> c_int;

/// The few C API functions the loader calls, resolved at run time.
struct PythonApi {
    is_initialized: IsInitialized,
    initialize_ex: InitializeEx,
    set_program_name: Option<SetProgramName>,
    decode_locale: Option<DecodeLocale>,
    gil_ensure: GilEnsure,
    gil_release: GilRelease,
    save_thread: SaveThread,
    run_simple_string: RunSimpleString,
}

/// The Python already in this process (the plugin loaded into a Python program), else
/// libpython loaded with RTLD_GLOBAL so that extension modules find its symbols.
fn python_api(python: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<&'static PythonApi, String> {
    static API: Mutex<Option<&'static PythonApi>> = Mutex::new(None);
    let mut api = API.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(api) = *api {
        return Ok(api);
    }
    let this = Library::this();
    // SAFETY: looking a symbol up has no side effects.
    let in_process = unsafe { this.get::<IsInitialized>(b"Py_IsInitialized\0") }.is_ok();
    let library = if in_process {
        debug("Python is already in this process");
        this
    } else {
        let path = libpython_for(python, env, &query_libpython)?;
        debug(&format!("loading {path} for {python:?}"));
        // SAFETY: loading libpython runs no Python code; its initialisers are sound to run.
        unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_GLOBAL) }
            .map_err(|e| format!("cannot load libpython {path}: {e}"))?
    };
    let loaded = resolve(&library)?;
    // libpython stays loaded for the rest of the process: Python cannot be unloaded.
    std::mem::forget(library);
    let loaded: &'static PythonApi = Box::leak(Box::new(loaded));
    *api = Some(loaded);
    Ok(loaded)
}

fn resolve(library: &Library) -> Result<PythonApi, String> {
    // SAFETY: each symbol is looked up with the signature the CPython C API gives it.
    unsafe {
        let get = |name: &[u8]| -> Result<*mut c_void, String> {
            library
                .get::<*mut c_void>(name)
                .map(|s| *s)
                .map_err(|e| format!("libpython lacks {}: {e}", String::from_utf8_lossy(&name[..name.len() - 1])))
        };
        Ok(PythonApi {
            is_initialized: std::mem::transmute::<*mut c_void, IsInitialized>(get(b"Py_IsInitialized\0")?),
            initialize_ex: std::mem::transmute::<*mut c_void, InitializeEx>(get(b"Py_InitializeEx\0")?),
            set_program_name: get(b"Py_SetProgramName\0")
                .ok()
                .map(|p| std::mem::transmute::<*mut c_void, SetProgramName>(p)),
            decode_locale: get(b"Py_DecodeLocale\0").ok().map(|p| std::mem::transmute::<*mut c_void, DecodeLocale>(p)),
            gil_ensure: std::mem::transmute::<*mut c_void, GilEnsure>(get(b"PyGILState_Ensure\0")?),
            gil_release: std::mem::transmute::<*mut c_void, GilRelease>(get(b"PyGILState_Release\0")?),
            save_thread: std::mem::transmute::<*mut c_void, SaveThread>(get(b"PyEval_SaveThread\0")?),
            run_simple_string: std::mem::transmute::<*mut c_void, RunSimpleString>(get(b"PyRun_SimpleString\0")?),
        })
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The Python run in `__main__`: make the virtualenv's packages importable (also when the
/// interpreter did not start as the venv's python), import framepipe and call its entry
/// point. Every exception is printed with its traceback on stderr; none escapes (a
/// SystemExit would end gst-launch-1.0).
pub(crate) fn bootstrap(address: usize, python: &str) -> String {
    format!(
        r#"
def _framepipe_pygobject_visible():
    # Debian's gst-python plugin loader, scanned in the same process, initialises PyGObject
    # in whatever interpreter is running: ours, whose sys.path (a virtualenv's) usually has
    # no `gi`. Let `gi` alone (not the rest of dist-packages) come from the system's
    # python3-gi when its extension fits this interpreter; otherwise gst-python fails with
    # "pygobject initialization failed" and caches its plugin with no features.
    import importlib.abc, importlib.machinery, os, sys
    try:
        if importlib.machinery.PathFinder.find_spec("gi") is not None:
            return
    except (ImportError, ValueError):
        return
    tag = "cpython-%d%d" % sys.version_info[:2]
    for base in ("/usr/lib/python3/dist-packages", "/usr/lib/python%d.%d/dist-packages" % sys.version_info[:2]):
        gi = os.path.join(base, "gi")
        try:
            fits = any(n.startswith("_gi.") and tag in n for n in os.listdir(gi))
        except OSError:
            continue
        if not fits:
            continue

        class _SystemGi(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None, _base=base):
                if name == "gi":
                    return importlib.machinery.PathFinder.find_spec(name, [_base])
                return None

        sys.meta_path.append(_SystemGi())
        return

def _framepipe_plugin_boot(address, python):
    import os, sys, site
    if not getattr(sys, "argv", None):
        sys.argv = [python]
    try:
        _framepipe_pygobject_visible()
    except Exception:
        pass
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python))) if python else ""
    if venv and os.path.exists(os.path.join(venv, "pyvenv.cfg")) \
            and os.path.realpath(sys.prefix) != os.path.realpath(venv):
        site.addsitedir(os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"))
    # Tells framepipe's extension module not to register its built-ins statically:
    # _plugin_load registers them into this plugin.
    sys._framepipe_plugin_loading = True
    try:
        import framepipe
    except ImportError as exc:
        sys.stderr.write(
            "framepipe plugin: cannot import framepipe with Python %s (%s): %s; no Python elements registered "
            "(set FRAMEPIPE_PYTHON to the python of the virtualenv that has framepipe)\n"
            % (sys.version.split()[0], python or sys.executable, exc))
        if getattr(exc, "name", None) != "framepipe":
            import traceback
            traceback.print_exc()
        return
    load = getattr(framepipe, "{ENTRY_POINT}", None)
    if load is None:
        sys.stderr.write("framepipe plugin: %s has no {ENTRY_POINT}(); no Python elements registered\n"
                         % framepipe.__file__)
        return
    load(address)

try:
    _framepipe_plugin_boot({address}, bytes.fromhex("{python}").decode())
except BaseException:
    import sys, traceback
    sys.stderr.write("framepipe plugin: loading Python elements failed:\n")
    traceback.print_exc()
finally:
    del _framepipe_plugin_boot, _framepipe_pygobject_visible
    __import__("sys").__dict__.pop("_framepipe_plugin_loading", None)
"#,
        python = hex(python),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn framepipe_python_wins_over_virtual_env_and_build_time() {
        let env = env_of(&[("FRAMEPIPE_PYTHON", "/opt/venv/bin/python"), ("VIRTUAL_ENV", "/other")]);
        assert_eq!(choose_python(&env, Some("/own/bin/python")).as_deref(), Some("/opt/venv/bin/python"));
        let env = env_of(&[("VIRTUAL_ENV", "/work/main/.venv")]);
        assert_eq!(choose_python(&env, None).as_deref(), Some("/work/main/.venv/bin/python"));
        assert_eq!(choose_python(&env, Some("/own/bin/python")).as_deref(), Some("/own/bin/python"));
        let env = env_of(&[]);
        assert_eq!(choose_python(&env, None).as_deref(), Some(BUILD_PYTHON).filter(|p| !p.is_empty()));
    }

    #[test]
    fn the_python_beside_an_installed_plugin_file() {
        let root = std::env::temp_dir().join(format!("fp-beside-{}", std::process::id()));
        let plugin = root.join("venv/lib/python3.11/site-packages/framepipe/gst-plugins/libgstframepipe.so");
        std::fs::create_dir_all(plugin.parent().unwrap()).unwrap();
        std::fs::create_dir_all(root.join("venv/bin")).unwrap();
        assert_eq!(python_beside(&plugin), None, "no python there yet");
        std::fs::write(root.join("venv/bin/python3.11"), "").unwrap();
        let prefix_python = root.join("venv/bin/python3.11").to_string_lossy().into_owned();
        assert_eq!(python_beside(&plugin), Some(prefix_python), "a prefix install");
        std::fs::write(root.join("venv/pyvenv.cfg"), "").unwrap();
        std::fs::write(root.join("venv/bin/python"), "").unwrap();
        let venv_python = root.join("venv/bin/python").to_string_lossy().into_owned();
        assert_eq!(python_beside(&plugin), Some(venv_python), "a virtualenv");
        assert_eq!(python_beside(Path::new("/work/python/framepipe/gst-plugins/libgstframepipe.so")), None);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn libpython_comes_from_the_override_the_build_or_the_interpreter() {
        let never = |_: &str| -> Option<String> { panic!("must not spawn python") };
        let env = env_of(&[("FRAMEPIPE_LIBPYTHON", "/x/libpython3.11.so.1.0")]);
        assert_eq!(libpython_for(Some("/any/python"), &env, &never).unwrap(), "/x/libpython3.11.so.1.0");
        let empty = env_of(&[]);
        if !BUILD_LIBPYTHON.is_empty() {
            assert_eq!(libpython_for(Some(BUILD_PYTHON), &empty, &never).unwrap(), BUILD_LIBPYTHON);
        }
        let asked = |p: &str| Some(format!("{p}.so"));
        assert_eq!(libpython_for(Some("/elsewhere/python"), &empty, &asked).unwrap(), "/elsewhere/python.so");
        let silent = |_: &str| None;
        let err = libpython_for(Some("/elsewhere/python"), &empty, &silent).unwrap_err();
        assert!(err.contains("/elsewhere/python"), "{err}");
        assert!(libpython_for(None, &empty, &never).is_err());
    }

    #[test]
    fn the_build_time_python_has_a_loadable_libpython() {
        if BUILD_PYTHON.is_empty() {
            return;
        }
        assert_eq!(query_libpython(BUILD_PYTHON).as_deref(), Some(BUILD_LIBPYTHON));
        assert!(Path::new(BUILD_LIBPYTHON).exists() || !BUILD_LIBPYTHON.contains('/'), "{BUILD_LIBPYTHON}");
    }

    #[test]
    fn bootstrap_quotes_any_path() {
        let code = bootstrap(0x1234, "/tmp/we\"ird'\n path/python");
        assert!(code.contains("_framepipe_plugin_boot(4660, bytes.fromhex(\""));
        assert!(!code.contains("we\"ird"));
        assert!(code.contains("framepipe, \"_plugin_load\""));
    }
}
