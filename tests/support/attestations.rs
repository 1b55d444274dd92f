//! A build's attestations: each image's SBOM (SPDX 2.3 JSON) and provenance (in-toto statement,
//! SLSA v1 predicate), written from the real inputs beside the images (`Build::sbom`,
//! `Build::provenance`).
use crate::arch::Arch;
use crate::cargo::binary;
use crate::image::Build;
use crate::layout::sha256;
use crate::{inputs, provenance, sbom};

/// The digests of one image's two documents, as written.
pub struct Digests {
    pub sbom: String,
    pub provenance: String,
}

/// Writes the SBOM and provenance of each image (its arch and manifest digest) into `build`;
/// `command` is what the provenance says was run. Returns their digests, in the images' order.
pub fn write_attestations(build: &Build, images: &[(&'static Arch, &str)], command: &str) -> Vec<Digests> {
    let (source, toolchain, files) = (inputs::source(), inputs::toolchain(), inputs::input_files());
    std::fs::create_dir_all(build.dir.join("attestations")).unwrap();
    images
        .iter()
        .map(|&(arch, manifest_digest)| {
            let crates = inputs::crates(arch);
            let binary = std::fs::read(binary(arch)).unwrap();
            let subject = sbom::Subject { arch, manifest_digest, binary: &binary };
            let doc = serde_json::to_vec_pretty(&sbom::sbom(&subject, &crates, &toolchain, &source)).unwrap();
            let statement = provenance::provenance(&provenance::Build {
                arch,
                manifest_digest,
                command,
                source: &source,
                files: &files,
                toolchain: &toolchain,
                crates: &crates,
            });
            let statement = serde_json::to_vec_pretty(&statement).unwrap();
            std::fs::write(build.sbom(arch), &doc).unwrap();
            std::fs::write(build.provenance(arch), &statement).unwrap();
            Digests { sbom: sha256(&doc), provenance: sha256(&statement) }
        })
        .collect()
}
