//! size-report: builds every arch's release binary and prints, per arch, its size and where the
//! bytes go (headers, code, strings, padding) next to the budget.
//!
//!   bash tests/tool size-report                        # a table
//!   bash tests/tool size-report --json > sizes.json    # the same as one JSON object (README)
//!   bash tests/tool size-report --compare sizes.json   # the table, then every figure that grew
//!   bash tests/tool size-report --json --compare sizes.json   # the JSON, then every figure that grew
//!
//! Exit status: 2 if any binary is over its budget; else 1 if --compare found a figure that grew
//! (each named on stderr with old, new and delta); 64 for bad arguments or an unreadable report.
use pause_tests::report::{grown, read_report, report};
use pause_tests::size::*;

fn main() {
    let usage = || -> ! {
        eprintln!("usage: size-report [--json] [--compare EARLIER.json]");
        std::process::exit(64)
    };
    let (mut json, mut previous) = (false, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--json" if !json => json = true,
            "--compare" if previous.is_none() => previous = Some(read_report(&args.next().unwrap_or_else(|| usage()))),
            _ => usage(),
        }
    }
    let rows = breakdowns();
    let now = report(&rows, None);
    if json {
        println!("{}", serde_json::to_string_pretty(&now).unwrap());
    } else {
        print!("{}", size_table(&rows));
    }
    let grew = previous.map(|old| grown(&old, &now)).unwrap_or_default();
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
