//! images: builds every arch's binary with cargo and pause image with podman from the
//! Containerfile, the manifest list localhost/pause:<version> in podman's store and the OCI
//! layout that ships (target/images/oci/list), and prints a size table.
//!
//!   bash tests/tool images
//!   bash tests/tool images --oci-dir DIR           # also copy the OCI layout to DIR
//!   bash tests/tool images --oci-archive FILE      # or write it as an oci-archive tarball
//!                                                  # (docker load takes it too: manifest.json)
//!   bash tests/tool images --json                  # the size report with the images, as JSON
//!   bash tests/tool images --compare EARLIER.json  # exit 1 naming every figure that grew
//!
//! Builds are reproducible (--timestamp 0, no history): the same source gives the same digests.
//! It uses podman as you have it set up (CONTAINERS_CONF and the like are honoured).
use pause_tests::image::*;
use pause_tests::podman::Podman;
use pause_tests::report::{grown, read_report, report};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dirs, mut archives, mut json, mut previous) = (Vec::new(), Vec::new(), false, None);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--oci-dir", Some(path)) => dirs.push(PathBuf::from(path)),
            ("--oci-archive", Some(path)) => archives.push(PathBuf::from(path)),
            ("--compare", Some(path)) => previous = Some(read_report(&path)),
            ("--json", None) => json = true,
            _ => {
                eprintln!("usage: images [--oci-dir DIR] [--oci-archive FILE] [--json | --compare EARLIER.json]");
                std::process::exit(64)
            }
        }
    }
    let images = build_images(&Podman::user(), &Build::shipping());
    let now = report(&pause_tests::size::breakdowns(), Some(&images));
    if json {
        println!("{}", serde_json::to_string_pretty(&now).unwrap());
    } else {
        print!("{}", image_table(&images));
        println!("manifest list: {} (OCI layout: {})", list_name(), layout_dir().display());
        for i in &images {
            println!("{}: {} (manifest {})", image_name(i.arch), i.id, i.manifest_digest);
        }
    }
    for dir in dirs {
        export_layout(&dir, false);
        eprintln!("wrote the OCI layout {}", dir.display());
    }
    for file in archives {
        export_layout(&file, true);
        eprintln!("wrote the oci-archive {}", file.display());
    }
    let grew = previous.map(|old| grown(&old, &now)).unwrap_or_default();
    for line in &grew {
        eprintln!("images: {line}");
    }
    if !grew.is_empty() {
        std::process::exit(1)
    }
}
