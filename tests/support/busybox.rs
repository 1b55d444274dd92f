//! The tests' busybox image (Debian's busybox-static, no registry): the other containers of pods.
use crate::podman::Podman;
use crate::scratch::checkout_root;
use std::path::{Path, PathBuf};

/// Its name in the tests' podman store and in the oci-archive.
pub const BUSYBOX: &str = "localhost/pause-test-busybox:latest";

/// Builds the busybox image into the tests' podman store (once per test process).
pub fn busybox() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let bb = Path::new("/bin/busybox");
        assert!(bb.is_file(), "/bin/busybox is missing: install busybox-static (bash tests/run does)");
        let ctx = checkout_root().join("images/busybox");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy(bb, ctx.join("busybox")).unwrap();
        std::fs::write(
            ctx.join("Containerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n",
        )
        .unwrap();
        Podman::for_tests().ok(["build", "--quiet", "--tag", BUSYBOX, ctx.to_str().unwrap()]);
    });
    BUSYBOX
}

/// The busybox image as an oci-archive named BUSYBOX (written once per test process).
pub fn busybox_archive() -> PathBuf {
    static ARCHIVE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let file = checkout_root().join("images/busybox.oci.tar");
            let _ = std::fs::remove_file(&file);
            Podman::for_tests().ok(["push", "--quiet", "--format", "oci", busybox(), &format!("oci-archive:{}:{BUSYBOX}", file.display())]);
            file
        })
        .clone()
}

/// The busybox image as a docker-archive named BUSYBOX, what `docker load` of every Docker
/// version reads (written once per test process).
pub fn busybox_docker_archive() -> PathBuf {
    static ARCHIVE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let file = checkout_root().join("images/busybox.docker.tar");
            let _ = std::fs::remove_file(&file);
            Podman::for_tests().ok(["save", "--quiet", "--format", "docker-archive", "--output", file.to_str().unwrap(), busybox()]);
            file
        })
        .clone()
}
