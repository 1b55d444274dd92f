//! Where a release binary's bytes go (from lld's link map), and the size report's table.
use crate::arch::{ARCHES, Arch};
use crate::cargo::binary;

/// Where the bytes of one arch's release binary go.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub arch: &'static Arch,
    pub total: u64,
    /// ELF header and program headers.
    pub headers: u64,
    /// Machine code (.text input sections).
    pub code: u64,
    /// Messages (.rodata input sections).
    pub strings: u64,
    /// Alignment padding between them.
    pub padding: u64,
}

impl Breakdown {
    pub fn over_budget(&self) -> bool {
        self.total > self.arch.max_bytes
    }
}

/// The link map lld wrote beside the binary (build.rs passes -Map).
pub fn link_map(arch: &Arch) -> String {
    let path = binary(arch).with_file_name("pause.map");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn breakdown(arch: &'static Arch) -> Breakdown {
    let total = std::fs::metadata(binary(arch)).unwrap().len();
    let headers = arch.header_bytes();
    let (mut code, mut strings) = (0, 0);
    // Input-section lines of an lld map: VMA LMA Size Align then "file.o:(.section.name)".
    for line in link_map(arch).lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some(section) = cols.get(4).and_then(|c| c.rsplit_once(":(")).map(|(_, s)| s.trim_end_matches(')')) else { continue };
        let size = u64::from_str_radix(cols[2], 16).unwrap();
        if section.starts_with(".text") {
            code += size;
        } else if section.starts_with(".rodata") {
            strings += size;
        }
    }
    Breakdown { arch, total, headers, code, strings, padding: total - headers - code - strings }
}

/// The breakdown of every arch, in table order (builds the binaries first).
pub fn breakdowns() -> Vec<Breakdown> {
    ARCHES.iter().map(|a| breakdown(a)).collect()
}

/// The size report: one line per arch with where the bytes go and the budget.
pub fn size_table(rows: &[Breakdown]) -> String {
    let mut out =
        format!("{:<8} {:>5} {:>7} {:>5} {:>7} {:>7} {:>6}\n", "arch", "bytes", "headers", "code", "strings", "padding", "budget");
    for b in rows {
        out += &format!(
            "{:<8} {:>5} {:>7} {:>5} {:>7} {:>7} {:>6}\n",
            b.arch.name, b.total, b.headers, b.code, b.strings, b.padding, b.arch.max_bytes
        );
    }
    out
}
