//! images: builds every arch's binary with cargo and pause image with podman from the
//! Containerfile, the manifest list localhost/pause:<version> in podman's store and the OCI
//! layout that ships (target/images/oci/list), and prints a size table.
//!
//!   bash tests/tool images
//!   bash tests/tool images --oci-dir DIR           # also copy the OCI layout to DIR
//!   bash tests/tool images --oci-archive FILE      # or write it as an oci-archive tarball
//!                                                  # (docker load takes it too: manifest.json)
//!   bash tests/tool images --sign-key FILE         # also sign (COSIGN_PASSWORD: its password)
//!   bash tests/tool images --json                  # the size report with the images, as JSON
//!   bash tests/tool images --compare EARLIER.json  # exit 1 naming every figure that grew
//!
//! Every image gets an SBOM (SPDX 2.3) and a provenance statement (in-toto, SLSA v1), written to
//! target/images/attestations. With --sign-key, cosign signs the index and every image and attaches
//! those as signed attestations, in a throwaway registry, and the signed repository is written as
//! one OCI layout, target/images/oci/signed (docs/supply-chain.md).
//!
//! Builds are reproducible (--timestamp 0, no history): the same source gives the same digests.
//! It uses podman as you have it set up (CONTAINERS_CONF and the like are honoured).
use pause_tests::cosign::Cosign;
use pause_tests::image::*;
use pause_tests::podman::Podman;
use pause_tests::report::{grown, read_report, report};
use pause_tests::signing::sign_into_layout;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dirs, mut archives, mut json, mut previous, mut sign_key) = (Vec::new(), Vec::new(), false, None, None);
    while let Some(flag) = args.next() {
        // --json takes no value; every other flag takes the next argument.
        let value = if flag == "--json" { None } else { args.next() };
        match (flag.as_str(), value) {
            ("--oci-dir", Some(path)) => dirs.push(PathBuf::from(path)),
            ("--oci-archive", Some(path)) => archives.push(PathBuf::from(path)),
            ("--compare", Some(path)) => previous = Some(read_report(&path)),
            ("--sign-key", Some(path)) => sign_key = Some(PathBuf::from(path)),
            ("--json", None) => json = true,
            _ => {
                eprintln!("usage: images [--oci-dir DIR] [--oci-archive FILE] [--sign-key FILE] [--json] [--compare EARLIER.json]");
                std::process::exit(64)
            }
        }
    }
    // A missing key is found before minutes of building, not after.
    if let Some(private) = sign_key.as_ref().filter(|k| !k.is_file()) {
        eprintln!("images: no key file {}", private.display());
        std::process::exit(64)
    }
    // What the provenance records as the command: this one, as typed (tests/tool runs it as images).
    let command = std::iter::once(IMAGES_COMMAND.to_string()).chain(std::env::args().skip(1)).collect::<Vec<_>>().join(" ");
    let images = build_images(&Podman::user(), &Build::shipping(), &command);
    let now = report(&pause_tests::size::breakdowns(), Some(&images));
    if json {
        println!("{}", serde_json::to_string_pretty(&now).unwrap());
    } else {
        print!("{}", image_table(&images));
        println!("manifest list: {} (OCI layout: {})", Build::shipping().list_name(), Build::shipping().layout_dir().display());
        for i in &images {
            println!("{}: {} (manifest {})", image_name(i.arch), i.weighed.id, i.weighed.manifest_digest);
            println!("  SBOM {} {}", Build::shipping().sbom(i.arch).display(), i.sbom_digest);
            println!("  provenance {} {}", Build::shipping().provenance(i.arch).display(), i.provenance_digest);
        }
    }
    for dir in dirs {
        export_layout(&Build::shipping(), &dir, false);
        eprintln!("wrote the OCI layout {}", dir.display());
    }
    for file in archives {
        export_layout(&Build::shipping(), &file, true);
        eprintln!("wrote the oci-archive {}", file.display());
    }
    if let Some(private) = sign_key {
        let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
        let build = Build::shipping();
        let cosign = Cosign { netns_pid: std::process::id(), home: build.dir.join("cosign") };
        std::fs::create_dir_all(&cosign.home).unwrap();
        let key = cosign.key_pair(&private, &password, &build.dir.join("cosign.pub"));
        let signed = build.dir.join("oci/signed");
        sign_into_layout(&build, &images, &key, &signed);
        eprintln!(
            "signed and attested with {}: the signed repository is the OCI layout {} (public key: {})",
            private.display(),
            signed.display(),
            key.public.display()
        );
    }
    let grew = previous.map(|old| grown(&old, &now)).unwrap_or_default();
    for line in &grew {
        eprintln!("images: {line}");
    }
    if !grew.is_empty() {
        std::process::exit(1)
    }
}
