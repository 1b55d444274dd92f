//! The images critest (cri-tools' CRI validation suite) runs, which cannot be pulled here: stand-ins
//! made of Debian 12's own programs (tests/stand-ins unpacks the packages), under the names critest
//! uses, written as oci-archives a node imports; and catatonit -P as the other sandbox image.
use crate::podman::Podman;
use crate::process::{require, run_to_end, text};
use crate::scratch::checkout_root;
use std::path::{Path, PathBuf};

/// critest's busybox (its DefaultTestContainerImage): Debian's dynamic busybox, every applet a
/// hard link in /bin (runc masks a path by mounting over it: a symlinked /bin/ls would mask busybox
/// itself), procps' pgrep and util-linux's ipcs (Debian's busybox has neither), /tmp, and the users
/// critest names (nobody, www-data).
pub const BUSYBOX: &str = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
/// The web server of the port-mapping, port-forward and PID namespace specs: Debian's nginx as PID
/// 1 ("nginx: master process"), its pid file at /var/run/nginx.pid, 200 on port 80.
pub const NGINX: &str = "registry.k8s.io/e2e-test-images/nginx:1.14-2";
/// The same nginx on port 12003, for the host-network port-forward spec.
pub const HOSTNET_NGINX: &str = "gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64:latest";
/// The multi-container specs' web server: busybox's httpd on port 80, which names itself in its
/// log when it starts.
pub const HTTPD: &str = "registry.k8s.io/e2e-test-images/httpd:2.4.39-4";
/// kubernetes' test/images/nonewprivs: a setuid-root program that prints its effective uid.
pub const NONEWPRIVS: &str = "registry.k8s.io/e2e-test-images/nonewprivs:1.3";
/// cri-tools' images/image-predefined-group: user 1000 in a group the image defines (50000).
pub const PREDEFINED_GROUP: &str = "gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest";

/// Every stand-in, in build order (each after the image it is made from).
pub const STAND_INS: [&str; 6] = [BUSYBOX, NGINX, HOSTNET_NGINX, HTTPD, NONEWPRIVS, PREDEFINED_GROUP];

/// The sandbox image critest runs against for comparison: Debian's static catatonit as
/// `catatonit -P` (podman's own pause process).
pub const CATATONIT: &str = "localhost/pause-tests-catatonit:latest";

/// nonewprivs' program, as kubernetes' test/images/nonewprivs/nnp.c has it.
const NNP_C: &str =
    "#include <stdio.h>\n#include <unistd.h>\nint main(void) {\n  printf(\"Effective uid: %d\\n\", geteuid());\n  return 0;\n}\n";

/// Where tests/run unpacked the packages (PAUSE_TESTS_STAND_INS); fails (never skips) without them.
fn packages() -> PathBuf {
    crate::made::by_tests_run("PAUSE_TESTS_STAND_INS", "the stand-ins' packages").join("root")
}

/// The shared libraries `binary` loads, as the dynamic linker resolves them on this machine (the
/// packages are Debian 12's, as is this machine).
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let mut cmd = std::process::Command::new("ldd");
    cmd.arg(binary);
    let out = run_to_end(cmd);
    assert!(out.status.success(), "ldd {}: {}", binary.display(), text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Copies `from` to `root`/`to` with its libraries at their own paths under `root`.
fn install(root: &Path, from: &Path, to: &str) {
    for (src, dst) in libraries(from).into_iter().map(|l| (l.clone(), l)).chain([(from.to_path_buf(), PathBuf::from(to))]) {
        let dst = root.join(dst.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    }
}

fn write(root: &Path, path: &str, contents: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, contents).unwrap();
}

/// nginx.conf of the nginx stand-ins: in the foreground, as root (no worker user needed), logging
/// to the container's stderr, serving one page on `port`.
fn nginx_conf(port: u16) -> String {
    format!(
        "user root;\nworker_processes 1;\npid /var/run/nginx.pid;\nerror_log stderr;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  server {{\n    listen {port};\n    root /usr/share/nginx/html;\n  }}\n}}\n"
    )
}

/// One stand-in's build context: a Containerfile and the files it copies (a `rootfs` tree).
fn context(name: &str) -> (PathBuf, PathBuf) {
    let dir = checkout_root().join("images/critest").join(name.rsplit('/').next().unwrap().replace(':', "-"));
    let _ = std::fs::remove_dir_all(&dir);
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    (dir, rootfs)
}

/// The Containerfile and rootfs of the stand-in `name`.
fn prepare(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let debs = packages();
    let (dir, root) = context(name);
    let containerfile = match name {
        BUSYBOX => {
            install(&root, &debs.join("bin/busybox"), "/bin/busybox");
            install(&root, Path::new("/usr/bin/pgrep"), "/usr/bin/pgrep");
            install(&root, Path::new("/usr/bin/ipcs"), "/usr/bin/ipcs");
            write(
                &root,
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            );
            write(&root, "etc/group", "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n");
            std::fs::create_dir_all(root.join("tmp")).unwrap();
            std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
            std::fs::create_dir_all(root.join("root")).unwrap();
            "FROM scratch\nCOPY rootfs/ /\nRUN [\"/bin/busybox\", \"--install\", \"/bin\"]\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD [\"sh\"]\n".to_string()
        }
        NGINX | HOSTNET_NGINX => {
            install(&root, &debs.join("usr/sbin/nginx"), "/usr/sbin/nginx");
            write(&root, "etc/nginx/nginx.conf", &nginx_conf(if name == NGINX { 80 } else { 12003 }));
            write(&root, "usr/share/nginx/html/index.html", "<p>nginx</p>\n");
            for d in ["var/run", "var/log/nginx", "var/lib/nginx"] {
                std::fs::create_dir_all(root.join(d)).unwrap();
            }
            format!("FROM {BUSYBOX}\nCOPY rootfs/ /\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\n")
        }
        HTTPD => {
            write(&root, "www/index.html", "<p>httpd</p>\n");
            format!(
                "FROM {BUSYBOX}\nCOPY rootfs/ /\nCMD [\"sh\", \"-c\", \"echo 'httpd: serving /www on port 80'; exec httpd -f -v -p 80 -h /www\"]\n"
            )
        }
        NONEWPRIVS => {
            require("gcc", "install gcc and libc6-dev (bash tests/run does)");
            std::fs::write(dir.join("nnp.c"), NNP_C).unwrap();
            std::fs::create_dir_all(root.join("usr/local/bin")).unwrap();
            let mut cc = std::process::Command::new("gcc");
            cc.args(["-static", "-Os", "-o"]).arg(root.join("usr/local/bin/nnp")).arg(dir.join("nnp.c"));
            let out = run_to_end(cc);
            assert!(out.status.success(), "gcc nnp.c: {}", text(&out.stderr));
            format!("FROM {BUSYBOX}\nCOPY rootfs/ /\nRUN [\"chmod\", \"4755\", \"/usr/local/bin/nnp\"]\nCMD [\"nnp\"]\n")
        }
        PREDEFINED_GROUP => {
            write(
                &root,
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\n",
            );
            write(&root, "etc/group", "root:x:0:\nnogroup:x:65534:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n");
            std::fs::create_dir_all(root.join("home/default-user")).unwrap();
            format!("FROM {BUSYBOX}\nCOPY rootfs/ /\nUSER 1000\n")
        }
        other => panic!("no stand-in named {other}"),
    };
    std::fs::write(dir.join("Containerfile"), containerfile).unwrap();
    dir
}

/// Builds `name` from `dir` into the tests' podman store and writes it as an oci-archive named
/// `name`; returns the archive.
fn build(name: &str, dir: &Path) -> PathBuf {
    let podman = Podman::for_tests();
    podman.ok(["build", "--quiet", "--pull=never", "--tag", name, dir.to_str().unwrap()]);
    let file = dir.with_file_name(format!("{}.oci.tar", dir.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_file(&file);
    podman.ok(["push", "--quiet", "--format", "oci", name, &format!("oci-archive:{}:{name}", file.display())]);
    file
}

/// Every stand-in as an oci-archive, with its name (built once per test process).
pub fn stand_ins() -> &'static [(PathBuf, String)] {
    static BUILT: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| STAND_INS.iter().map(|name| (build(name, &prepare(name)), name.to_string())).collect())
}

/// catatonit -P as a sandbox image: Debian's static catatonit (tests/run installs it) as its
/// entrypoint; an oci-archive named CATATONIT (built once per test process).
pub fn catatonit_archive() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let catatonit = require("catatonit", "install catatonit (bash tests/run does)");
            let (dir, root) = context(CATATONIT);
            std::fs::copy(&catatonit, root.join("catatonit")).unwrap();
            std::fs::write(
                dir.join("Containerfile"),
                "FROM scratch\nCOPY rootfs/catatonit /catatonit\nENTRYPOINT [\"/catatonit\", \"-P\"]\n",
            )
            .unwrap();
            build(CATATONIT, &dir)
        })
        .clone()
}
