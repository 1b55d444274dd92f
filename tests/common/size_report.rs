//! size-report: builds the five release binaries and prints, per arch, their size and where the
//! bytes go (headers, code, strings, padding) next to the budget.
//!
//!   cargo run -q -p pause-tests --bin size-report > sizes.txt
//!   cargo run -q -p pause-tests --bin size-report -- --compare sizes.txt
//!
//! With --compare FILE (an earlier report) it also prints the change per arch and exits 1 if any
//! binary grew. It exits 2 if any binary is over its budget.
use pause_tests::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let previous = match args.as_slice() {
        [] => Vec::new(),
        [flag, file] if flag == "--compare" => {
            let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            let rows = parse_size_table(&text);
            assert!(!rows.is_empty(), "{file} holds no size report");
            rows
        }
        _ => {
            eprintln!("usage: size-report [--compare EARLIER-REPORT]");
            std::process::exit(64)
        }
    };
    print!("{}", size_table(&previous));
    let grew: Vec<String> = previous
        .iter()
        .filter_map(|(name, old)| {
            let arch = ARCHES.iter().find(|a| &a.name == name)?;
            let now = breakdown(arch).total;
            (now > *old).then(|| format!("{name} grew from {old} to {now} bytes"))
        })
        .collect();
    let over: Vec<String> = ARCHES
        .iter()
        .filter(|a| breakdown(a).total > a.max_bytes)
        .map(|a| format!("{} is over its budget of {} bytes", a.name, a.max_bytes))
        .collect();
    for line in grew.iter().chain(&over) {
        eprintln!("size-report: {line}");
    }
    if !over.is_empty() {
        std::process::exit(2)
    }
    if !grew.is_empty() {
        std::process::exit(1)
    }
}
