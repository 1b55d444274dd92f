//! images: builds every arch's binary with cargo and pause image with podman from the
//! Containerfile, assembles the manifest list localhost/pause:<version>, and prints a size table.
//!
//!   bash tests/tool images
//!   bash tests/tool images --oci-dir DIR        # also write an OCI layout
//!   bash tests/tool images --oci-archive FILE   # or an oci-archive tarball
//!
//! Builds are reproducible (--timestamp 0, no history): the same source gives the same digests.
//! It uses podman as you have it set up (CONTAINERS_CONF and the like are honoured).
use pause_tests::cargo::version;
use pause_tests::image::*;
use pause_tests::podman::Podman;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut exports = Vec::new();
    for pair in args.chunks(2) {
        match pair {
            [flag, path] if flag == "--oci-dir" => exports.push(format!("oci:{path}:{}", version())),
            [flag, path] if flag == "--oci-archive" => exports.push(archive_dest(std::path::Path::new(path))),
            _ => {
                eprintln!("usage: images [--oci-dir DIR] [--oci-archive FILE]");
                std::process::exit(64)
            }
        }
    }
    let podman = Podman::user();
    let images = build_images(&podman);
    print!("{}", image_table(&images));
    println!("manifest list: {}", list_name());
    for i in &images {
        println!("{}: {} (manifest {})", image_name(i.arch), i.id, i.manifest_digest);
    }
    for dest in exports {
        export_list(&podman, &dest);
        println!("wrote {dest}");
    }
}
