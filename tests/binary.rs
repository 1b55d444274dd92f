//! The binaries themselves: ELF shape (static, position independent, no sections, W^X), size
//! budgets and the size report, a random load address, no panic path, no load-time relocation,
//! bit-identical clean builds.
use pause_tests::cargo::{build_in, build_with};
use pause_tests::prelude::*;
use pause_tests::size::{breakdowns, size_table};

/// Reads an unsigned field of `n` bytes at `off` in the file's byte order.
fn field(bytes: &[u8], arch: &Arch, off: usize, n: usize) -> u64 {
    let b = &bytes[off..off + n];
    let mut v = 0u64;
    for i in 0..n {
        let byte = if arch.elf.big_endian { b[i] } else { b[n - 1 - i] };
        v = (v << 8) | byte as u64;
    }
    v
}

/// The size of the field a projection picks, e.g. `size_of_field(|h: &elf64_hdr| &h.e_entry)`.
fn size_of_field<S, T>(_: impl Fn(&S) -> &T) -> usize {
    std::mem::size_of::<T>()
}

/// Field `$f` of the ELF header (linux-raw-sys's elf64_hdr or elf32_hdr, by the arch's class)
/// at byte `$base` of the file, in the file's byte order.
macro_rules! elf_field {
    ($bytes:expr, $arch:expr, $base:expr, $hdr64:ident, $hdr32:ident, $f:ident) => {{
        use linux_raw_sys::elf_uapi::{$hdr32, $hdr64};
        let (off, n) = if $arch.elf.class64 {
            (std::mem::offset_of!($hdr64, $f), size_of_field(|h: &$hdr64| &h.$f))
        } else {
            (std::mem::offset_of!($hdr32, $f), size_of_field(|h: &$hdr32| &h.$f))
        };
        field($bytes, $arch, $base + off, n)
    }};
}

/// A field of the ELF header.
macro_rules! ehdr {
    ($bytes:expr, $arch:expr, $f:ident) => {
        elf_field!($bytes, $arch, 0, elf64_hdr, elf32_hdr, $f)
    };
}

struct Segment {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

use linux_raw_sys::elf_uapi::{
    EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ET_DYN, PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP,
    PT_LOAD,
};

fn segments(bytes: &[u8], arch: &Arch) -> Vec<Segment> {
    let (phoff, phentsize, phnum) = (ehdr!(bytes, arch, e_phoff), ehdr!(bytes, arch, e_phentsize), ehdr!(bytes, arch, e_phnum));
    (0..phnum as usize)
        .map(|i| {
            let ph = phoff as usize + i * phentsize as usize;
            macro_rules! phdr {
                ($f:ident) => {
                    elf_field!(bytes, arch, ph, elf64_phdr, elf32_phdr, $f)
                };
            }
            Segment {
                p_type: phdr!(p_type) as u32,
                flags: phdr!(p_flags) as u32,
                offset: phdr!(p_offset),
                vaddr: phdr!(p_vaddr),
                filesz: phdr!(p_filesz),
                memsz: phdr!(p_memsz),
                align: phdr!(p_align),
            }
        })
        .collect()
}

for_each_arch! {
    /// ELF identity: class, byte order, machine, flags (ppc64le: ELFv2; arm: EABI5 hard-float).
    fn elf_identity_is_right(arch) {
        let bytes = std::fs::read(binary(arch)).unwrap();
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(bytes[EI_CLASS as usize] as u32, if arch.elf.class64 { ELFCLASS64 } else { ELFCLASS32 }, "EI_CLASS");
        assert_eq!(bytes[EI_DATA as usize] as u32, if arch.elf.big_endian { ELFDATA2MSB } else { ELFDATA2LSB }, "EI_DATA");
        assert_eq!(ehdr!(&bytes, arch, e_machine), arch.elf.machine as u64, "e_machine");
        let e_flags = ehdr!(&bytes, arch, e_flags);
        assert_eq!(e_flags, arch.elf.flags as u64, "e_flags");
    }
}

for_each_arch! {
    /// Static and position independent: ET_DYN with no PT_INTERP and no PT_DYNAMIC (so nothing
    /// could apply a relocation: the link script fails on any), no section headers.
    fn static_position_independent_without_sections(arch) {
        let bytes = std::fs::read(binary(arch)).unwrap();
        assert_eq!(ehdr!(&bytes, arch, e_type), ET_DYN as u64, "e_type must be ET_DYN");
        let (shoff, shnum) = (ehdr!(&bytes, arch, e_shoff), ehdr!(&bytes, arch, e_shnum));
        assert_eq!((shoff, shnum), (0, 0), "section headers");
        let segs = segments(&bytes, arch);
        assert!(segs.iter().all(|s| s.p_type != PT_INTERP), "PT_INTERP: not static");
        assert!(segs.iter().all(|s| s.p_type != PT_DYNAMIC), "PT_DYNAMIC: not static");
    }
}

for_each_arch! {
    /// W^X: exactly one PT_LOAD, read+execute, mapping the whole file from offset 0 (headers, code,
    /// strings: nothing writable, nothing after it); a PT_GNU_STACK that is read+write, not executable.
    fn one_read_execute_segment_and_a_non_executable_stack(arch) {
        let bytes = std::fs::read(binary(arch)).unwrap();
        let segs = segments(&bytes, arch);
        assert_eq!(segs.len(), 2, "program headers");
        let load = &segs[0];
        assert_eq!(load.p_type, PT_LOAD);
        assert_eq!(load.flags, PF_R | PF_X, "PT_LOAD must be R+X, never W");
        assert_eq!((load.offset, load.vaddr), (0, 0));
        assert_eq!(load.filesz, bytes.len() as u64, "the PT_LOAD must cover the whole file");
        assert_eq!(load.memsz, load.filesz, "no bss");
        assert_eq!(load.align, arch.elf.p_align, "p_align");
        let stack = &segs[1];
        assert_eq!(stack.p_type, PT_GNU_STACK);
        assert_eq!(stack.flags, PF_R | PF_W, "stack must be RW, not executable");
        let entry = ehdr!(&bytes, arch, e_entry);
        // The code starts after the ELF header (e_ehsize: 64 bytes for ELF64, 52 for ELF32).
        let header = ehdr!(&bytes, arch, e_ehsize);
        assert!(entry >= header && entry < bytes.len() as u64, "e_entry {entry:#x} outside the code");
    }
}

/// Every release binary fits its budget; prints the table of every arch's size and where the bytes go.
#[test]
fn every_binary_is_within_its_size_budget() {
    let rows = breakdowns();
    print!("{}", size_table(&rows));
    let over: Vec<String> = rows
        .iter()
        .filter(|b| b.over_budget())
        .map(|b| format!("{} is {} bytes, over its {}", b.arch.name, b.total, b.arch.max_bytes))
        .collect();
    assert!(over.is_empty(), "{}", over.join("; "));
}

/// `size-report --json` is one object with every arch's figures, and `--compare` against a
/// doctored earlier report (amd64 one byte smaller) exits 1 naming that figure with old, new and
/// delta; against itself it exits 0.
#[test]
fn the_size_report_is_json_and_compare_catches_growth() {
    let tool = env!("CARGO_BIN_EXE_size-report");
    let run = |args: &[&std::ffi::OsStr]| {
        let mut c = std::process::Command::new(tool);
        c.args(args);
        run_to_end(c)
    };
    let out = run(&["--json".as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["version"], version());
    for a in ARCHES {
        let b = &report["arches"][a.name]["binary"];
        assert_eq!(b["bytes"], std::fs::metadata(binary(a)).unwrap().len(), "{}", a.name);
        assert_eq!(b["budget"], a.max_bytes);
        for k in ["headers", "code", "strings", "padding"] {
            assert!(b[k].is_u64(), "{}: no {k}", a.name);
        }
    }
    let scratch = Scratch::new("sizes");
    let same = scratch.join("same.json");
    std::fs::write(&same, &out.stdout).unwrap();
    let out = run(&["--compare".as_ref(), same.as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut doctored = report.clone();
    let bytes = doctored["arches"]["amd64"]["binary"]["bytes"].as_u64().unwrap();
    doctored["arches"]["amd64"]["binary"]["bytes"] = (bytes - 1).into();
    let old = scratch.join("old.json");
    std::fs::write(&old, serde_json::to_vec(&doctored).unwrap()).unwrap();
    let out = run(&["--compare".as_ref(), old.as_ref()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("size-report: arches.amd64.binary.bytes grew: {} -> {bytes} (+1)\n", bytes - 1));
}

/// ASLR: the kernel maps the (ET_DYN) binary at a different address each run.
#[test]
fn loads_at_a_random_address() {
    let aslr = std::fs::read_to_string("/proc/sys/kernel/randomize_va_space").unwrap();
    assert_ne!(aslr.trim(), "0", "ASLR is off on this machine (kernel.randomize_va_space = 0): the test cannot tell");
    let bin = binary(&AMD64);
    let base = || {
        let p = asleep(pause_cmd(&AMD64));
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", p.pid)).unwrap();
        let line = maps.lines().find(|l| l.ends_with(bin.to_str().unwrap())).expect("pause's own mapping").to_string();
        assert!(line.contains(" r-xp "), "mapping is not r-x: {line}");
        line.split('-').next().unwrap().to_string()
    };
    let (a, b) = (base(), base());
    assert_ne!(a, b, "two runs were loaded at the same address");
}
for_each_arch! {
    /// No panic machinery or message made it into the binary.
    fn no_panic_strings_in_the_binary(arch) {
        let bytes = std::fs::read(binary(arch)).unwrap();
        for needle in [&b"panicked"[..], b"index out of bounds", b"src/main.rs", b"rust_begin_unwind", b"pause_must_not_panic"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{} found in the binary", String::from_utf8_lossy(needle));
        }
    }
}

/// The panic handler names an undefined symbol, so the release link only succeeds while nothing
/// can panic. Proof that this guard bites: the same build with one bounds-checked index must fail
/// to link on that symbol (the normal build, which the other tests use, links).
#[test]
fn a_panic_path_fails_the_link() {
    let err = probe_build_error("pause_panic_probe").expect_err("a build with a reachable panic linked: the guard does not work");
    assert!(err.contains("pause_must_not_panic"), "the probe build failed for another reason:\n{err}");
    binary(&AMD64);
}

/// Builds amd64 with `--cfg <probe>` (the probe code in src/main.rs) in its own target directory.
fn probe_build_error(probe: &str) -> Result<std::path::PathBuf, String> {
    let dir = repo_root().join("target").join(probe);
    build_with(&AMD64, &[&format!(r#"target.x86_64-unknown-linux-gnu.rustflags=["--cfg={probe}"]"#)], Some(&dir))
}

/// The link refuses anything that would need a load-time relocation (nothing would apply it):
/// the same build with a table of string addresses must fail on the linker script's assertion.
#[test]
fn a_load_time_relocation_fails_the_link() {
    let err =
        probe_build_error("pause_reloc_probe").expect_err("a build with a table of addresses linked: the relocation guard does not work");
    assert!(err.contains("pause would need load-time relocations"), "the probe build failed for another reason:\n{err}");
}

/// Copies the source tree (no target/, no .git/) to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Reproducible: two clean builds of every arch, from copies of the tree at two different paths,
/// give bit-identical binaries, identical to the ones the other tests use.
#[test]
fn clean_builds_are_bit_identical() {
    let base = Scratch::new("repro");
    let trees = [base.join("a"), base.join("b/a/longer/path")];
    for t in &trees {
        copy_tree(&repo_root(), t);
    }
    let builds: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        let handles: Vec<_> = trees
            .iter()
            .map(|tree| {
                s.spawn(move || {
                    ARCHES.iter().map(|a| std::fs::read(build_in(tree, a, &[], None).unwrap_or_else(|e| panic!("{e}"))).unwrap()).collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, a) in ARCHES.iter().enumerate() {
        let ours = std::fs::read(binary(a)).unwrap();
        assert!(builds[0][i] == builds[1][i], "{}: two clean builds differ", a.name);
        assert!(builds[0][i] == ours, "{}: a clean build differs from target/{}/release/pause", a.name, a.triple);
    }
}
