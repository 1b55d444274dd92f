//! size-report: builds every arch's release binary and prints, per arch, their size and where the
//! bytes go (headers, code, strings, padding) next to the budget.
//!
//!   bash tests/tool size-report > sizes.txt
//!   bash tests/tool size-report --compare sizes.txt
//!
//! With --compare FILE (an earlier report) it also prints the change per arch and exits 1 if any
//! binary grew. It exits 2 if any binary is over its budget.
use pause_tests::size::*;

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
    let rows = breakdowns();
    print!("{}", size_table(&rows, &previous));
    let grew: Vec<String> = rows
        .iter()
        .filter_map(|b| {
            let (_, old) = previous.iter().find(|(a, _)| *a == b.arch)?;
            (b.total > *old).then(|| format!("{} grew from {old} to {} bytes", b.arch.name, b.total))
        })
        .collect();
    let over: Vec<String> = rows
        .iter()
        .filter(|b| b.over_budget())
        .map(|b| format!("{} is over its budget of {} bytes", b.arch.name, b.arch.max_bytes))
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
