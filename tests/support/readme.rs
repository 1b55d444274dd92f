//! README.md and docs/*.md as the tests read them (tables that name what the code runs, commands a
//! test runs as typed): one reader of all of them, so that a section that moves from one file to
//! another moves for every test at once.
use crate::cargo::repo_root;

/// The text of README.md, then of every docs/*.md (by name).
pub fn text() -> String {
    let docs = repo_root().join("docs");
    let mut paths: Vec<_> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("{}: {e}", docs.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    paths.sort();
    paths.insert(0, repo_root().join("README.md"));
    paths.iter().map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())) + "\n").collect()
}

/// The cells (trimmed, without the outer bars) of the one table row whose first cell is `first`;
/// fails when README.md and docs/ have no such row, or more than one.
pub fn row(first: &str) -> Vec<String> {
    let text = text();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("| {first} |"))).collect();
    let [line] = lines[..] else { panic!("README.md and docs/ have {} table rows for {first}, not one: {lines:#?}", lines.len()) };
    cells_of(line)
}

/// The table rows (whole lines) that contain `what`.
pub fn rows_containing(what: &str) -> Vec<String> {
    text().lines().filter(|l| l.starts_with("| ") && l.contains(what)).map(str::to_string).collect()
}

/// The first line that starts with `prefix` (leading blanks ignored: an indented command), trimmed.
pub fn line_starting(prefix: &str) -> String {
    let text = text();
    let line = text.lines().map(str::trim).find(|l| l.starts_with(prefix));
    line.unwrap_or_else(|| panic!("README.md and docs/ have no line starting `{prefix}`")).to_string()
}

/// The lines (trimmed) from the first that starts with `first` to the next that is exactly `last`.
pub fn lines_between(first: &str, last: &str) -> Vec<String> {
    let text = text();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let start =
        lines.iter().position(|l| l.starts_with(first)).unwrap_or_else(|| panic!("README.md and docs/ have no line starting `{first}`"));
    let end = start
        + lines[start..].iter().position(|l| *l == last).unwrap_or_else(|| panic!("README.md and docs/ have no `{last}` after `{first}`"));
    lines[start..=end].iter().map(|l| l.to_string()).collect()
}

/// The release a program's version string names, as README's tables write it: "containerd
/// v2.3.7" and "2.3.7-rc.1" give "2.3.7" (the last word, without a leading v or a suffix).
pub fn release(version: &str) -> &str {
    let v = version.rsplit(' ').next().unwrap_or(version).trim_start_matches('v');
    &v[..v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len())]
}

/// A table of README.md or docs/: its header's cells and each row's cells (trimmed, without the
/// outer bars; the `|---|` line left out).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn cells_of(line: &str) -> Vec<String> {
    line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect()
}

/// Every table of README.md and docs/ (a run of lines that start with `|`).
pub fn tables() -> Vec<Table> {
    let text = text();
    let mut tables = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with('|') {
            continue;
        }
        let header = cells_of(line);
        let mut rows = Vec::new();
        while let Some(l) = lines.next_if(|l| l.starts_with('|')) {
            if !l.starts_with("|---") {
                rows.push(cells_of(l));
            }
        }
        tables.push(Table { header, rows });
    }
    tables
}

/// The cells, in every table, of the rows whose first cell is `first`, in the columns whose
/// header `column` accepts.
pub fn cells(first: &str, column: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for t in tables() {
        let columns: Vec<usize> = (0..t.header.len()).filter(|&i| column(&t.header[i])).collect();
        for row in t.rows.iter().filter(|r| r.first().is_some_and(|c| c == first)) {
            found.extend(columns.iter().filter_map(|&i| row.get(i).cloned()));
        }
    }
    found
}

/// Every version README.md and docs/ give right after `word` (`word X.Y.Z` or `word vX.Y.Z`, a
/// line break counting as a space) in the minor line of `release` (its `X.Y`). Tests compare them
/// with what the program reports, so the prose cannot drift from the tables. (A second version
/// in "containerd 2.3.7 and 2.4.2" is not read.)
pub fn versions_of(word: &str, release: &str) -> Vec<String> {
    let minor: String = release.split('.').take(2).collect::<Vec<_>>().join(".");
    versions_after(&format!("{word} ")).into_iter().filter(|v| v.split('.').count() == 3 && v.starts_with(&format!("{minor}."))).collect()
}

/// Every version README.md and docs/ give right after `prefix` (an optional `v`, then digits and
/// dots, a sentence's full stop left out; a line break counting as a space).
pub fn versions_after(prefix: &str) -> Vec<String> {
    // One line: a mention may wrap ("cri-tools\n1.37.0").
    let text = text().split_whitespace().collect::<Vec<_>>().join(" ");
    text.match_indices(prefix)
        .map(|(at, _)| {
            let rest = text[at + prefix.len()..].trim_start_matches('v');
            rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect::<String>().trim_end_matches('.').to_string()
        })
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .collect()
}
