//! With the `gst-plugin-file` feature (which maturin enables, so `pip install .` and the
//! wheel get it): builds the plugin file that gst-launch-1.0 loads (the framepipe-gst-loader
//! crate) and puts it in the Python package as `framepipe/gst-plugins/libgstframepipe.so`,
//! where maturin packs it and `python -m framepipe plugin-path` points.
//!
//! The loader is built by a second cargo in a target directory of its own: the outer build
//! holds the lock of its own, and the loader needs only GStreamer's C bindings, so this
//! takes seconds.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_GST_PLUGIN_FILE").is_none() {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root =
        manifest.parent().and_then(|p| p.parent()).expect("crates/framepipe-py lives two levels down").to_path_buf();
    let loader = root.join("crates/framepipe-gst-loader");
    for path in ["src", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={}", loader.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=FRAMEPIPE_PYTHON");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target_dir = root.join("target/gst-loader");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--locked", "-p", "framepipe-gst-loader", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if release {
        build.arg("--release");
    }
    // The outer build's flags (maturin's, for the extension module) are not the loader's.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"] {
        build.env_remove(var);
    }
    let status = build.status().expect("running cargo to build framepipe-gst-loader");
    assert!(status.success(), "building the gst-launch-1.0 plugin file (framepipe-gst-loader) failed");
    let built = target_dir.join(if release { "release" } else { "debug" }).join("libframepipe_gst_loader.so");
    let dest = root.join("python/framepipe/gst-plugins");
    std::fs::create_dir_all(&dest).expect("creating python/framepipe/gst-plugins");
    // Copy to a temporary name and rename, so a gst-launch-1.0 scanning the folder never
    // sees half a file.
    let tmp = dest.join(".libgstframepipe.so.tmp");
    std::fs::copy(&built, &tmp).expect("copying the plugin file");
    std::fs::rename(&tmp, dest.join("libgstframepipe.so")).expect("installing the plugin file");
}
