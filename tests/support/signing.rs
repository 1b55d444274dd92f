//! Signing what the images command built: the layout pushed to a registry, the image index and
//! every platform image signed with cosign, each platform's SBOM and provenance attached as
//! signed attestations (to its image and to the index); and the signed repository as one OCI
//! layout (every tag: the image's, and cosign's `sha256-<digest>.sig` / `.att`) that carries it
//! all into another registry (docs/supply-chain.md's loop of skopeo copies, which a test runs).
use crate::cosign::{Cosign, KeyPair, Predicate};
use crate::image::{Build, Image};
use crate::layout::index_digest;
use crate::namespaces::Namespaces;
use crate::node::Root;
use crate::registry::{ADDRESS, Registry};
use crate::scratch::Scratch;
use std::path::Path;

/// Pushes the build's layout (every platform and the index, digests unchanged) to
/// `repository:<version>`; returns the index's reference, repository@digest.
pub fn push(registry: &Registry, build: &Build, repository: &str) -> String {
    let layout = format!("oci:{}:{}", build.layout_dir().display(), build.list_name());
    let tag = format!("docker://{repository}:{}", crate::cargo::version());
    registry.in_netns_ok(&["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false", &layout, &tag]);
    format!("{repository}@{}", index_digest(&build.layout_dir()))
}

/// Signs the index and every platform image of `images` in `repository`, and attests each
/// platform's SBOM and provenance on its image and on the index. `work` holds the provenance
/// predicates (cosign takes the predicate alone and makes the statement itself, with the image's
/// digest as subject).
pub fn sign_and_attest(cosign: &Cosign, key: &KeyPair, build: &Build, images: &[Image], repository: &str, work: &Path) {
    let index = format!("{repository}@{}", index_digest(&build.layout_dir()));
    cosign.sign(key, &index);
    std::fs::create_dir_all(work).unwrap();
    for i in images {
        let image = format!("{repository}@{}", i.weighed.manifest_digest);
        cosign.sign(key, &image);
        let statement: serde_json::Value = serde_json::from_slice(&std::fs::read(build.provenance(i.arch)).unwrap()).unwrap();
        let predicate = work.join(format!("{}.slsa-predicate.json", i.arch.name));
        std::fs::write(&predicate, serde_json::to_vec(&statement["predicate"]).unwrap()).unwrap();
        for target in [&image, &index] {
            cosign.attest(key, Predicate::Spdx, &build.sbom(i.arch), target);
            cosign.attest(key, Predicate::SlsaProvenance1, &predicate, target);
        }
    }
}

/// Writes every tag of `repository` (the image's and cosign's) into one OCI layout at `dest`,
/// each named by its tag, digests unchanged.
pub fn export_repository(registry: &Registry, repository: &str, dest: &Path) {
    let tags: serde_json::Value =
        serde_json::from_str(&registry.in_netns_ok(&["skopeo", "list-tags", "--tls-verify=false", &format!("docker://{repository}")]))
            .unwrap();
    let _ = std::fs::remove_dir_all(dest);
    for tag in tags["Tags"].as_array().unwrap() {
        let tag = tag.as_str().unwrap();
        let to = format!("oci:{}:{tag}", dest.display());
        let from = format!("docker://{repository}:{tag}");
        registry.in_netns_ok(&["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--src-tls-verify=false", &from, &to]);
    }
}

/// A throwaway registry in network and mount namespaces of its own, with cosign pointed at it;
/// the registry, then the namespaces, then its files go when it is dropped.
pub struct SigningRegistry {
    pub cosign: Cosign,
    pub registry: Registry,
    _namespaces: Namespaces,
    /// Its files (cosign's home, work files): keys a test makes go here too.
    pub scratch: Scratch,
}

impl SigningRegistry {
    pub fn new(label: &str) -> SigningRegistry {
        let scratch = Scratch::new(label);
        let namespaces = Namespaces::new(&Root::Host, scratch.path(), &[]);
        let registry = Registry::start(namespaces.pid());
        let cosign = Cosign { netns_pid: namespaces.pid(), home: scratch.join("cosign") };
        std::fs::create_dir_all(&cosign.home).unwrap();
        SigningRegistry { cosign, registry, _namespaces: namespaces, scratch }
    }

    /// `build` pushed to `repository`, signed and attested there with `key`; returns the index's
    /// reference (`repository@digest`).
    pub fn push_signed(&self, build: &Build, images: &[Image], key: &KeyPair, repository: &str) -> String {
        let index = push(&self.registry, build, repository);
        sign_and_attest(&self.cosign, key, build, images, repository, &self.scratch.join("work"));
        index
    }
}

/// What the images command's `--sign-key` does: a throwaway registry (in namespaces of its own),
/// the build pushed, signed and attested there with `key`, and the whole repository written to
/// `dest` as one OCI layout (`export_repository`). Nothing stays but `dest`.
pub fn sign_into_layout(build: &Build, images: &[Image], key: &KeyPair, dest: &Path) {
    let r = SigningRegistry::new("sign");
    let repository = format!("{ADDRESS}/{}", crate::cargo::package_field("name"));
    r.push_signed(build, images, key, &repository);
    export_repository(&r.registry, &repository, dest);
}
