//! The binaries themselves: ELF shape (static, position independent, no sections, W^X), size
//! budgets and the size report, a random load address, no panic path, no load-time relocation,
//! bit-identical clean builds.
use pause_tests::cargo::{build_in, build_with};
use pause_tests::prelude::*;
use pause_tests::size::{breakdowns, size_table};

/// One program header, as the `object` crate reads it.
struct Segment {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

/// What the tests look at in a binary's ELF header and program headers, read by the `object`
/// crate (a reader of its own, not this suite's arithmetic), in the file's class and byte order.
struct Elf {
    class64: bool,
    big_endian: bool,
    e_machine: u16,
    e_flags: u32,
    e_type: u16,
    e_shoff: u64,
    e_shnum: u16,
    e_entry: u64,
    e_ehsize: u16,
    segments: Vec<Segment>,
}

/// Reads `bytes` as an ELF file of the header type `H` (32- or 64-bit).
fn read_elf<H: FileHeader<Endian = Endianness>>(bytes: &[u8]) -> Elf {
    let h = H::parse(bytes).expect("an ELF header");
    let e = h.endian().expect("a known byte order");
    let segments = h
        .program_headers(e, bytes)
        .expect("program headers")
        .iter()
        .map(|p| Segment {
            p_type: p.p_type(e),
            flags: p.p_flags(e),
            offset: p.p_offset(e).into(),
            vaddr: p.p_vaddr(e).into(),
            filesz: p.p_filesz(e).into(),
            memsz: p.p_memsz(e).into(),
            align: p.p_align(e).into(),
        })
        .collect();
    Elf {
        class64: h.is_class_64(),
        big_endian: e.is_big_endian(),
        e_machine: h.e_machine(e),
        e_flags: h.e_flags(e),
        e_type: h.e_type(e),
        e_shoff: h.e_shoff(e).into(),
        e_shnum: h.e_shnum(e),
        e_entry: h.e_entry(e).into(),
        e_ehsize: h.e_ehsize(e),
        segments,
    }
}

/// The binary's ELF facts, by its class (EI_CLASS).
fn elf(bytes: &[u8]) -> Elf {
    assert_eq!(&bytes[..4], b"\x7fELF");
    match bytes[EI_CLASS as usize] as u32 {
        ELFCLASS64 => read_elf::<FileHeader64<Endianness>>(bytes),
        ELFCLASS32 => read_elf::<FileHeader32<Endianness>>(bytes),
        class => panic!("EI_CLASS {class}"),
    }
}

use linux_raw_sys::elf_uapi::{EI_CLASS, ELFCLASS32, ELFCLASS64, ET_DYN, PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP, PT_LOAD};
use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endian, Endianness};

for_each_arch! {
    /// ELF identity: class, byte order, machine, flags (ppc64le: ELFv2; arm: EABI5 hard-float).
    fn elf_identity_is_right(arch) {
        let elf = elf(&std::fs::read(binary(arch)).unwrap());
        assert_eq!(elf.class64, arch.elf.class64, "EI_CLASS");
        assert_eq!(elf.big_endian, arch.elf.big_endian, "EI_DATA");
        assert_eq!(elf.e_machine, arch.elf.machine, "e_machine");
        assert_eq!(elf.e_flags, arch.elf.flags, "e_flags");
    }
}

for_each_arch! {
    /// Static and position independent: ET_DYN with no PT_INTERP and no PT_DYNAMIC (so nothing
    /// could apply a relocation: the link script fails on any), no section headers.
    fn static_position_independent_without_sections(arch) {
        let elf = elf(&std::fs::read(binary(arch)).unwrap());
        assert_eq!(elf.e_type as u32, ET_DYN, "e_type must be ET_DYN");
        assert_eq!((elf.e_shoff, elf.e_shnum), (0, 0), "section headers");
        let segs = &elf.segments;
        assert!(segs.iter().all(|s| s.p_type != PT_INTERP), "PT_INTERP: not static");
        assert!(segs.iter().all(|s| s.p_type != PT_DYNAMIC), "PT_DYNAMIC: not static");
    }
}

for_each_arch! {
    /// W^X: exactly one PT_LOAD, read+execute, mapping the whole file from offset 0 (headers, code,
    /// strings: nothing writable, nothing after it); a PT_GNU_STACK that is read+write, not executable.
    fn one_read_execute_segment_and_a_non_executable_stack(arch) {
        let bytes = std::fs::read(binary(arch)).unwrap();
        let elf = elf(&bytes);
        let segs = &elf.segments;
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
        let entry = elf.e_entry;
        // The code starts after the ELF header (e_ehsize: 64 bytes for ELF64, 52 for ELF32).
        let header = elf.e_ehsize as u64;
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

/// Every binary size README.md and docs/ give (each table's row for the arch, in the columns
/// headed `bytes` or `binary ...`) is the size of the file the build makes, and every `budget`
/// column is the arch table's budget: a figure in the docs cannot drift from the code.
#[test]
fn the_documented_binary_sizes_are_the_built_ones() {
    let mut wrong = Vec::new();
    for a in ARCHES {
        let bytes = std::fs::metadata(binary(a)).unwrap().len().to_string();
        let sizes = pause_tests::readme::cells(a.name, |h| h == "bytes" || h.starts_with("binary"));
        assert!(!sizes.is_empty(), "README.md and docs/ give no size for {}", a.name);
        wrong.extend(sizes.iter().filter(|c| **c != bytes).map(|c| format!("{}: {c}, the binary is {bytes}", a.name)));
        let budgets = pause_tests::readme::cells(a.name, |h| h == "budget");
        assert!(!budgets.is_empty(), "README.md and docs/ give no budget for {}", a.name);
        wrong.extend(
            budgets
                .iter()
                .filter(|c| **c != a.max_bytes.to_string())
                .map(|c| format!("{}: budget {c}, arch.rs says {}", a.name, a.max_bytes)),
        );
    }
    assert!(wrong.is_empty(), "README.md or docs/ disagree with the build: {wrong:#?}");
}

/// `size-report --json` is one object with every arch's figures and its `format_version`, and
/// `--compare` against a doctored earlier report (amd64 one byte smaller) exits 1 naming that
/// figure with old, new and delta, also with `--json` (the JSON on stdout); against itself it
/// exits 0; a report of another format_version is refused (exit 64, naming it).
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
    assert_eq!(report["format_version"], pause_tests::report::FORMAT_VERSION);
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
    let out = run(&["--json".as_ref(), "--compare".as_ref(), old.as_ref()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), report, "--json --compare prints the report");
    assert_eq!(text(&out.stderr), format!("size-report: arches.amd64.binary.bytes grew: {} -> {bytes} (+1)\n", bytes - 1));
    let mut other = report.clone();
    other["format_version"] = 0.into();
    let other_file = scratch.join("other.json");
    std::fs::write(&other_file, serde_json::to_vec(&other).unwrap()).unwrap();
    let out = run(&["--compare".as_ref(), other_file.as_ref()]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is a size report of format_version 0"), "{}", text(&out.stderr));
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
