//! The tests' busybox image (Debian's busybox-static, no registry): the other containers of pods.
use crate::once::{key, per_checkout};
use crate::podman::Podman;
use crate::scratch::checkout_root;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Its name in the tests' podman store and in the oci-archive.
pub const BUSYBOX: &str = "localhost/pause-test-busybox:latest";

const CONTAINERFILE: &str =
    "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n";

/// The image in the tests' podman store and its two archives.
#[derive(Serialize, Deserialize)]
struct Made {
    /// As an oci-archive named BUSYBOX.
    oci: PathBuf,
    /// As a docker-archive named BUSYBOX, what `docker load` of every Docker version reads.
    docker: PathBuf,
}

/// Builds the image from /bin/busybox and writes both archives: once per checkout and busybox
/// binary (`once::per_checkout`), so test processes running side by side share one build.
fn made() -> &'static Made {
    static MADE: std::sync::OnceLock<Made> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let bb = Path::new("/bin/busybox");
        assert!(bb.is_file(), "/bin/busybox is missing: install busybox-static (bash tests/run does)");
        let binary = std::fs::read(bb).unwrap();
        // This file's own source too: a change to how it is made makes it again.
        let key = key([binary.as_slice(), include_str!("busybox.rs").as_bytes(), include_str!("podman.rs").as_bytes()]);
        let podman = Podman::for_tests();
        let still_there = |m: &Made| m.oci.is_file() && m.docker.is_file() && podman.run(["image", "exists", BUSYBOX]).status.success();
        per_checkout("busybox", &key, still_there, || {
            let ctx = checkout_root().join("images/busybox");
            let _ = std::fs::remove_dir_all(&ctx);
            std::fs::create_dir_all(&ctx).unwrap();
            std::fs::copy(bb, ctx.join("busybox")).unwrap();
            std::fs::write(ctx.join("Containerfile"), CONTAINERFILE).unwrap();
            podman.ok(["build", "--quiet", "--tag", BUSYBOX, ctx.to_str().unwrap()]);
            let made =
                Made { oci: checkout_root().join("images/busybox.oci.tar"), docker: checkout_root().join("images/busybox.docker.tar") };
            let _ = std::fs::remove_file(&made.oci);
            let _ = std::fs::remove_file(&made.docker);
            podman.ok(["push", "--quiet", "--format", "oci", BUSYBOX, &format!("oci-archive:{}:{BUSYBOX}", made.oci.display())]);
            podman.ok(["save", "--quiet", "--format", "docker-archive", "--output", made.docker.to_str().unwrap(), BUSYBOX]);
            made
        })
    })
}

/// The busybox image in the tests' podman store.
pub fn busybox() -> &'static str {
    made();
    BUSYBOX
}

/// The busybox image as an oci-archive named BUSYBOX.
pub fn busybox_archive() -> PathBuf {
    made().oci.clone()
}

/// The busybox image as a docker-archive named BUSYBOX, what `docker load` of every Docker
/// version reads.
pub fn busybox_docker_archive() -> PathBuf {
    made().docker.clone()
}
