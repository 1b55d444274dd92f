//! Sizes as data: the JSON report of the size-report and images commands, and what grew between two.
use crate::cargo::{repo_root, version};
use crate::image::Image;
use crate::process::text;
use crate::size::Breakdown;
use serde_json::{Map, Value, json};

/// The git commit the tree is at, if it is a git checkout.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").arg("-C").arg(repo_root()).args(["rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| text(&out.stdout).trim().to_string())
}

/// The report's format: `format_version` in every report; a reader refuses any other (a key
/// renamed or removed is a new format).
pub const FORMAT_VERSION: u64 = 1;

/// One object with stable keys: format_version, version, commit, and per arch the binary (bytes, budget and where
/// they go) and, when given, the image (layer tar, gzip layer, manifest, config, on the wire,
/// podman's SIZE after a pull; the digests of its manifest, SBOM and provenance).
pub fn report(binaries: &[Breakdown], images: Option<&[Image]>) -> Value {
    let mut arches = Map::new();
    for b in binaries {
        let mut entry = json!({"binary": {"bytes": b.total, "budget": b.arch.max_bytes, "headers": b.headers, "code": b.code, "strings": b.strings, "padding": b.padding}});
        if let Some(i) = images.and_then(|is| is.iter().find(|i| i.arch == b.arch)) {
            entry["image"] = json!({"layer_tar": i.weighed.layer_tar, "layer_gzip": i.weighed.layer_gzip, "manifest": i.weighed.manifest, "config": i.weighed.config,
                "on_the_wire": i.on_the_wire(), "podman_size": i.weighed.podman_size, "manifest_digest": i.weighed.manifest_digest,
                "sbom_digest": i.sbom_digest, "provenance_digest": i.provenance_digest});
        }
        arches.insert(b.arch.name.to_string(), entry);
    }
    json!({"format_version": FORMAT_VERSION, "version": version(), "commit": git_commit(), "arches": arches})
}

/// Every numeric figure of a report by its dotted path (arches.amd64.binary.bytes), budgets aside.
pub fn figures(report: &Value) -> Vec<(String, u64)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, u64)>) {
        match v {
            Value::Object(m) => m
                .iter()
                .filter(|(k, _)| *k != "budget")
                .for_each(|(k, v)| walk(&format!("{prefix}{}{k}", if prefix.is_empty() { "" } else { "." }), v, out)),
            Value::Number(n) => out.extend(n.as_u64().map(|n| (prefix.to_string(), n))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", &report["arches"], &mut out);
    out.into_iter().map(|(k, v)| (format!("arches.{k}"), v)).collect()
}

/// One line per figure of `new` that is larger than in `old`: name, old, new and delta.
pub fn grown(old: &Value, new: &Value) -> Vec<String> {
    let old = figures(old);
    figures(new)
        .into_iter()
        .filter_map(|(k, n)| {
            let (_, o) = old.iter().find(|(ok, _)| *ok == k)?;
            (n > *o).then(|| format!("{k} grew: {o} -> {n} (+{})", n - o))
        })
        .collect()
}

/// Reads a saved JSON report; exits 64 with a message if it is not one of FORMAT_VERSION.
pub fn read_report(file: &str) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(64)
    });
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v["arches"].is_object() && v["format_version"] == FORMAT_VERSION => v,
        Ok(v) if v["arches"].is_object() => {
            eprintln!("{file} is a size report of format_version {}; this one reads {FORMAT_VERSION}", v["format_version"]);
            std::process::exit(64)
        }
        _ => {
            eprintln!("{file} is not a JSON size report (--json writes one)");
            std::process::exit(64)
        }
    }
}
