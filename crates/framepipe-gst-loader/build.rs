//! Records which Python the gst-launch loader embeds by default (see src/loader.rs): the
//! interpreter named by FRAMEPIPE_PYTHON, else the active virtualenv's, else `python3`, and
//! the libpython it needs. Either can be overridden at run time.

use std::process::Command;

const QUERY: &str = "import sys, sysconfig; v = sysconfig.get_config_var; \
print(sys.executable); print(v('LIBDIR') or ''); print(v('INSTSONAME') or ''); print(v('LDLIBRARY') or '')";

fn main() {
    println!("cargo:rerun-if-env-changed=FRAMEPIPE_PYTHON");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    println!("cargo:rerun-if-changed=build.rs");
    let python = std::env::var("FRAMEPIPE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| std::env::var("VIRTUAL_ENV").ok().filter(|v| !v.is_empty()).map(|v| format!("{v}/bin/python")))
        .unwrap_or_else(|| "python3".into());
    let (executable, libpython) = match Command::new(&python).args(["-c", QUERY]).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            let get = |i: usize| lines.get(i).copied().unwrap_or("").trim().to_string();
            let (exe, libdir, soname, ldlibrary) = (get(0), get(1), get(2), get(3));
            // LDLIBRARY can name a static archive; INSTSONAME is the shared object.
            let lib = if !soname.is_empty() && soname.contains(".so") {
                soname
            } else if ldlibrary.contains(".so") {
                ldlibrary
            } else {
                String::new()
            };
            let libpython = if lib.is_empty() {
                String::new()
            } else if !libdir.is_empty() && std::path::Path::new(&libdir).join(&lib).exists() {
                format!("{libdir}/{lib}")
            } else {
                lib
            };
            (exe, libpython)
        }
        _ => {
            println!("cargo:warning=no Python found ({python}); the plugin loader needs FRAMEPIPE_PYTHON at run time");
            (String::new(), String::new())
        }
    };
    println!("cargo:rustc-env=FRAMEPIPE_BUILD_PYTHON={executable}");
    println!("cargo:rustc-env=FRAMEPIPE_BUILD_LIBPYTHON={libpython}");
}
