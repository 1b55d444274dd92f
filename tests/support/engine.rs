//! The Docker Engines the Docker tests run on: one row each, holding every per-engine fact (as
//! the node table does for CRI nodes). Everything else holds a `&'static Engine`, never its name.
use crate::arch::{ARCHES, Arch};
use crate::image::{image_name, list_name};
use crate::node::Root;
use std::path::PathBuf;

/// One Docker Engine: a dockerd and the containerd and runc it drives.
#[derive(Debug, PartialEq)]
pub struct Engine {
    /// The name tests and messages use.
    pub name: &'static str,
    /// Where its programs come from, for a failure message that says what to do.
    pub installed_by: &'static str,
    /// Where it runs: Debian 12's docker.io unpacked on the host's root (its dockerd starts the
    /// host's containerd 1.6 and runc 1.1), or the sid rootfs (Docker 28, containerd 2.x, runc 1.3).
    pub root: Root,
    /// Where `docker load` puts images, and so what it makes of a multi-platform archive.
    pub store: ImageStore,
    /// What `docker version` must report as the server's version.
    pub version_prefix: &'static str,
}

/// Docker's image stores.
#[derive(Debug, PartialEq)]
pub enum ImageStore {
    /// The graph-driver store (`--storage-driver vfs` here), Docker 28's default: one platform
    /// per image name; `docker load` reads the archive's manifest.json.
    Classic,
    /// The containerd image store (`--feature containerd-snapshotter`, containerd's `native`
    /// snapshotter here: containerd has no `vfs`): `docker load` reads the archive's index.json
    /// and keeps every platform under one name.
    Containerd,
}

/// Debian 12's docker.io 20.10, on this machine's containerd 1.6 and runc 1.1.
pub const DOCKER_20_10: Engine = Engine {
    name: "docker-20.10",
    installed_by: "bash tests/run (it unpacks Debian 12's docker.io)",
    root: Root::Host,
    store: ImageStore::Classic,
    version_prefix: "20.10.",
};

/// Debian sid's Docker 28 as installed, on containerd 2.x and runc 1.3.
pub const DOCKER_28: Engine = Engine {
    name: "docker-28",
    installed_by: "bash tests/run (it makes the sid node rootfs, with docker.io)",
    root: Root::SidRootfs,
    store: ImageStore::Classic,
    version_prefix: "28.",
};

/// The same Docker 28 with the containerd image store turned on.
pub const DOCKER_28_CONTAINERD_STORE: Engine = Engine {
    name: "docker-28-containerd-store",
    installed_by: "bash tests/run (it makes the sid node rootfs, with docker.io)",
    root: Root::SidRootfs,
    store: ImageStore::Containerd,
    version_prefix: "28.",
};

impl Engine {
    /// Fails the test, saying how to get them (`installed_by`), unless dockerd and docker are there.
    pub fn require_programs(&self) {
        let (dockerd, docker) = self.programs();
        for program in [dockerd, docker] {
            let on_host = match self.root {
                Root::Host => program,
                Root::SidRootfs => crate::runtime::node_root().join(program.strip_prefix("/").unwrap()),
            };
            assert!(on_host.is_file(), "{}: {} is missing: {}", self.name, on_host.display(), self.installed_by);
        }
    }

    /// dockerd and docker, as paths in the daemon's mount namespace.
    pub fn programs(&self) -> (PathBuf, PathBuf) {
        match self.root {
            Root::Host => (docker_20_root().join("usr/sbin/dockerd"), docker_20_root().join("usr/bin/docker")),
            Root::SidRootfs => (PathBuf::from("/usr/sbin/dockerd"), PathBuf::from("/usr/bin/docker")),
        }
    }

    /// PATH for dockerd: where it finds containerd, runc, docker-proxy and docker-init.
    pub fn path(&self) -> String {
        let system = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        match self.root {
            Root::Host => format!("{0}/usr/sbin:{0}/usr/bin:{system}", docker_20_root().display()),
            Root::SidRootfs => system.into(),
        }
    }

    /// dockerd's flags for its image store.
    pub fn store_flags(&self) -> &'static [&'static str] {
        match self.store {
            ImageStore::Classic => &["--storage-driver", "vfs"],
            ImageStore::Containerd => &["--storage-driver", "native", "--feature", "containerd-snapshotter"],
        }
    }
}

impl Engine {
    /// What `docker load` of the images command's archive names: each platform's image
    /// (`localhost/pause:<version>-<arch>`) in the classic store, the multi-platform image
    /// (`localhost/pause:<version>`) in the containerd store.
    pub fn loaded_names(&self) -> Vec<String> {
        match self.store {
            ImageStore::Classic => ARCHES.iter().map(|a| image_name(a)).collect(),
            ImageStore::Containerd => vec![list_name()],
        }
    }

    /// The `docker run` arguments that name `arch`'s pause image after that load.
    pub fn pause_image(&self, arch: &Arch) -> Vec<String> {
        match self.store {
            ImageStore::Classic => vec![image_name(arch)],
            ImageStore::Containerd => vec!["--platform".into(), arch.platform.into(), list_name()],
        }
    }
}

/// Debian 12's docker.io as tests/run unpacked it; fails (never skips) when there is none.
pub fn docker_20_root() -> PathBuf {
    crate::made::by_tests_run("PAUSE_TESTS_DOCKER_20", "Debian 12's docker.io")
}

/// Expands one test body into one #[test] per engine: `name::docker_20_10`, `name::docker_28`,
/// `name::docker_28_containerd_store`.
#[macro_export]
macro_rules! for_each_engine {
    ($($body:tt)*) => {
        $crate::for_each_row!($crate::engine::Engine; docker_20_10 => $crate::engine::DOCKER_20_10, docker_28 => $crate::engine::DOCKER_28,
            docker_28_containerd_store => $crate::engine::DOCKER_28_CONTAINERD_STORE; $($body)*);
    };
}
