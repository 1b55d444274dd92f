//! README.md as the tests read it (tables that name what the code runs, commands a test runs as
//! typed): one reader, so that a section that moves moves for every test at once.
use crate::cargo::repo_root;

/// README.md's text.
pub fn text() -> String {
    let path = repo_root().join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cells (trimmed, without the outer bars) of the table row whose first cell is `first`;
/// fails when README has no such row.
pub fn row(first: &str) -> Vec<String> {
    let text = text();
    let line =
        text.lines().find(|l| l.starts_with(&format!("| {first} |"))).unwrap_or_else(|| panic!("README has no table row for {first}"));
    let cells: Vec<String> = line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
    cells
}

/// The table rows (whole lines) that contain `what`.
pub fn rows_containing(what: &str) -> Vec<String> {
    text().lines().filter(|l| l.starts_with("| ") && l.contains(what)).map(str::to_string).collect()
}

/// The first line that starts with `prefix` (leading blanks ignored: an indented command), trimmed.
pub fn line_starting(prefix: &str) -> String {
    let text = text();
    let line = text.lines().map(str::trim).find(|l| l.starts_with(prefix));
    line.unwrap_or_else(|| panic!("README has no line starting `{prefix}`")).to_string()
}

/// The lines (trimmed) from the first that starts with `first` to the next that is exactly `last`.
pub fn lines_between(first: &str, last: &str) -> Vec<String> {
    let text = text();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let start = lines.iter().position(|l| l.starts_with(first)).unwrap_or_else(|| panic!("README has no line starting `{first}`"));
    let end = start + lines[start..].iter().position(|l| *l == last).unwrap_or_else(|| panic!("README has no `{last}` after `{first}`"));
    lines[start..=end].iter().map(|l| l.to_string()).collect()
}

/// The release a program's version string names, as README's tables write it: "containerd
/// v2.3.7" and "2.3.7-rc.1" give "2.3.7" (the last word, without a leading v or a suffix).
pub fn release(version: &str) -> &str {
    let v = version.rsplit(' ').next().unwrap_or(version).trim_start_matches('v');
    &v[..v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len())]
}
