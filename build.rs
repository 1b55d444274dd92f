//! Passes the linker script and link arguments for the pause binary (rust-lld, no libc).
use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("linker");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let script = dir.join(format!("{arch}.ld"));
    println!("cargo:rerun-if-changed={}", dir.display());
    // Set only by tests/binary.rs, to show that a panic path, or a load-time relocation, fails the link.
    println!("cargo::rustc-check-cfg=cfg(pause_panic_probe, pause_reloc_probe)");
    // ... and then the probe function (src/main.rs) must stay in the link: nothing calls it.
    if env::var_os("CARGO_CFG_PAUSE_PANIC_PROBE").is_some() || env::var_os("CARGO_CFG_PAUSE_RELOC_PROBE").is_some() {
        println!("cargo:rustc-link-arg-bins=--undefined=pause_probe");
    }
    // The link map (which input section went where) for the size report, beside the binary:
    // OUT_DIR is target/<triple>/<profile>/build/pause-<hash>/out.
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let map = out.ancestors().nth(3).unwrap().join("pause.map");
    for arg in [
        format!("-T{}", script.display()),
        format!("-L{}", dir.display()), // where INCLUDE finds the shared layout
        "--oformat=binary".into(),      // the file is exactly what the script lays out
        "--gc-sections".into(),
        "--build-id=none".into(),
        "-znorelro".into(),
        "-static".into(),
        "-pie".into(), // position independent: any absolute address would show up as a relocation
        "--no-dynamic-linker".into(),
        format!("-Map={}", map.display()),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
