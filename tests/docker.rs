//! Docker, as the articles that made the pause container famous use it, and as many users try
//! it first: `docker load` of what the images command writes, and the classic demo (pause holds
//! the namespaces, a proxy and a backend join them), on every engine of the engine table
//! (support/engine.rs): Debian 12's Docker 20.10, and Debian sid's Docker 28 with its classic and
//! its containerd image store. Each test runs a dockerd of its own in namespaces of its own.
use pause_tests::busybox::{BUSYBOX, busybox_docker_archive};
use pause_tests::docker::Docker;
use pause_tests::engine::{Engine, ImageStore};
use pause_tests::for_each_engine;
use pause_tests::image::{images, layout_dir, list_archive, list_name};
use pause_tests::layout::index_digest;
use pause_tests::prelude::*;
use std::time::Duration;

/// The port the demo publishes, and the backend's port on pause's loopback (the articles' ghost).
const PUBLISHED: u16 = 8080;
const BACKEND: u16 = 2368;
/// What the backend serves.
const PAGE: &str = "served by the backend on the loopback of pause\n";

/// `docker run ARGS` of this arch's pause image (engine-specific naming) with `flags` before it.
fn run_pause(d: &Docker, flags: &[&str], arch: &Arch, args: &[&str]) -> String {
    let image = d.engine.pause_image(arch);
    let mut argv: Vec<&str> = vec!["run"];
    argv.extend(flags);
    argv.extend(image.iter().map(String::as_str));
    argv.extend(args);
    d.ok(&argv)
}

/// A dockerd with the images command's archive and busybox loaded (plain `docker load -i`).
fn loaded(engine: &'static Engine) -> Docker {
    let d = Docker::start(engine);
    d.load(&list_archive());
    d.load(&busybox_docker_archive());
    d
}

/// The classic demo, as docs/docker.md types it, with busybox standing in for nginx (a
/// proxy on :80 forwarding to 127.0.0.1:2368) and ghost (a web server on 127.0.0.1:2368), both
/// joining pause's network, IPC and PID namespaces; running once the published port answers.
fn demo(engine: &'static Engine) -> Docker {
    let d = loaded(engine);
    let publish = format!("{PUBLISHED}:80");
    run_pause(&d, &["--detach", "--name", "pause", "--ipc=shareable", "--publish", &publish], &AMD64, &[]);
    let join = ["--net=container:pause", "--ipc=container:pause", "--pid=container:pause"];
    let proxy = format!("nc -ll -p 80 -e nc 127.0.0.1 {BACKEND}");
    let backend = format!("mkdir /www && printf %s '{PAGE}' > /www/index.html && exec httpd -f -p 127.0.0.1:{BACKEND} -h /www");
    for (name, script) in [("nginx", &proxy), ("ghost", &backend)] {
        let mut argv = vec!["run", "--detach", "--name", name];
        argv.extend(join);
        argv.extend([BUSYBOX, "sh", "-c", script]);
        d.ok(&argv);
    }
    let up = eventually(Duration::from_secs(30), || get(&d, &format!("127.0.0.1:{PUBLISHED}")).is_ok());
    assert!(
        up,
        "{}: the published port never answered: {:?}\n{}nginx: {}\nghost: {}",
        engine.name,
        get(&d, &format!("127.0.0.1:{PUBLISHED}")),
        d.ok(&["ps", "--all"]),
        d.logs("nginx"),
        d.logs("ghost")
    );
    d
}

/// What busybox wget says of a port nothing listens on.
const REFUSED: &str = "Connection refused";

/// An HTTP GET from the daemon's network namespace (where the port is published), as a client on
/// that machine makes it: the body, or what went wrong.
fn get(d: &Docker, host_port: &str) -> Result<String, String> {
    let mut cmd = d.namespaces().enter_net();
    cmd.args(["/bin/busybox", "wget", "-q", "-O", "-", &format!("http://{host_port}/")]);
    let out = run_to_end(cmd);
    if out.status.success() { Ok(text(&out.stdout)) } else { Err(format!("{}: {}", out.status, text(&out.stderr))) }
}

fn namespace(pid: u32, kind: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap()
}

for_each_engine! {
    /// A plain `docker load -i` of the images command's oci-archive: the classic store takes each
    /// platform's image, named `localhost/pause:<version>-<arch>` with the image ID the images
    /// command built; the containerd store takes the multi-platform image, named
    /// `localhost/pause:<version>`, whose ID is the image index's digest.
    fn docker_load_takes_the_images_commands_archive(engine) {
        let d = Docker::start(engine);
        let loaded = d.load(&list_archive());
        assert_eq!(loaded, engine.loaded_names(), "{}: what docker load named", engine.name);
        match engine.store {
            ImageStore::Classic => {
                // docs/docker.md's name for this machine's: localhost/pause:<version>-<Docker's arch name>.
                let arch = d.ok(&["version", "--format", "{{.Server.Arch}}"]).trim().to_string();
                let mine = format!("{}-{arch}", list_name());
                assert_eq!(d.inspect(&mine, "{{.Architecture}}"), arch, "{}: {mine}", engine.name);
                for i in images() {
                    let name = &loaded[ARCHES.iter().position(|a| *a == i.arch).unwrap()];
                    assert_eq!(d.inspect(name, "{{.Id}}"), format!("sha256:{}", i.weighed.id), "{}: {}", engine.name, i.arch.name);
                }
            }
            ImageStore::Containerd => assert_eq!(d.inspect(&loaded[0], "{{.Id}}"), index_digest(&layout_dir()), "{}", engine.name),
        }
    }
}

for_each_engine! {
    /// Every platform it loaded runs (the foreign ones through qemu's binfmt_misc entries):
    /// `docker run --rm <image> -v` prints the version line and exits 0.
    fn every_platform_it_loaded_prints_the_version(engine) {
        let d = Docker::start(engine);
        d.load(&list_archive());
        for a in ARCHES {
            assert_eq!(run_pause(&d, &["--rm"], a, &["-v"]), version_line(), "{}: {}", engine.name, a.name);
        }
    }
}

for_each_engine! {
    /// The published port reaches the backend through both containers: the proxy in pause's
    /// network namespace forwards to a server that listens only on that namespace's loopback
    /// (from pause's address, the backend's port is closed).
    fn the_published_port_reaches_the_backend_through_both_containers(engine) {
        let d = demo(engine);
        assert_eq!(get(&d, &format!("127.0.0.1:{PUBLISHED}")).as_deref(), Ok(PAGE), "{}", engine.name);
        let address = d.inspect("pause", "{{.NetworkSettings.IPAddress}}");
        assert!(!address.is_empty(), "{}: pause has no address", engine.name);
        let outside = get(&d, &format!("{address}:{BACKEND}"));
        assert!(outside.as_ref().is_err_and(|e| e.contains(REFUSED)), "{}: from outside pause's loopback, the backend: {outside:?}", engine.name);
    }
}

for_each_engine! {
    /// `ps` in a joined container shows /pause as PID 1 of the shared PID namespace, uid 65535.
    fn ps_in_a_joined_container_shows_pause_as_pid_1_uid_65535(engine) {
        let d = demo(engine);
        let ps = d.ok(&["exec", "ghost", "ps", "-o", "pid,user,args"]);
        let first: Vec<&str> = ps.lines().nth(1).unwrap_or_default().split_whitespace().collect();
        assert_eq!(first, ["1", "65535", "/pause"], "{}: ps in ghost:\n{ps}", engine.name);
    }
}

for_each_engine! {
    /// The joined containers' processes are in pause's network, IPC and PID namespaces.
    fn the_joined_containers_are_in_pauses_namespaces(engine) {
        let d = demo(engine);
        let pause = d.pid_of("pause");
        for name in ["nginx", "ghost"] {
            let pid = d.pid_of(name);
            for kind in ["net", "ipc", "pid"] {
                assert_eq!(namespace(pid, kind), namespace(pause, kind), "{}: {name}'s {kind} namespace", engine.name);
            }
        }
    }
}

for_each_engine! {
    /// `docker stop pause` ends it with exit code 0 and the shutdown line in `docker logs`; the
    /// joined containers end with it (pause was PID 1 of their PID namespace: the kernel kills
    /// the rest, exit code 137), and the published port no longer answers.
    fn docker_stop_pause_exits_0_and_ends_the_joined_containers(engine) {
        let d = demo(engine);
        d.ok(&["stop", "pause"]);
        assert_eq!(d.exit_code("pause"), 0, "{}", engine.name);
        assert_eq!(d.logs("pause"), SHUTDOWN_TERM, "{}", engine.name);
        for name in ["nginx", "ghost"] {
            assert_eq!(d.exit_code(name), 128 + SIGKILL, "{}: {name}", engine.name);
        }
        let after = get(&d, &format!("127.0.0.1:{PUBLISHED}"));
        assert!(after.as_ref().is_err_and(|e| e.contains(REFUSED)), "{}: the published port after the stop: {after:?}", engine.name);
    }
}

for_each_engine! {
    /// Another container may join pause's IPC namespace only if pause runs with `--ipc=shareable`:
    /// every engine here defaults to private IPC (docs/docker.md says why the flag).
    fn joining_pauses_ipc_needs_ipc_shareable(engine) {
        let d = loaded(engine);
        run_pause(&d, &["--detach", "--name", "private"], &AMD64, &[]);
        let refused = d.run(&["run", "--rm", "--ipc=container:private", BUSYBOX, "true"]);
        assert!(!refused.status.success(), "{}: joined a private IPC namespace", engine.name);
        assert!(text(&refused.stderr).contains("non-shareable IPC"), "{}: {}", engine.name, text(&refused.stderr));
        run_pause(&d, &["--detach", "--name", "shareable", "--ipc=shareable"], &AMD64, &[]);
        d.ok(&["run", "--rm", "--ipc=container:shareable", BUSYBOX, "true"]);
    }
}

for_each_engine! {
    /// `docker kill -s INT` ends pause with exit code 0 and the interrupt line.
    fn docker_kill_s_int_exits_0_with_the_interrupt_line(engine) {
        let d = Docker::start(engine);
        d.load(&list_archive());
        run_pause(&d, &["--detach", "--name", "pause"], &AMD64, &[]);
        d.ok(&["kill", "--signal", "INT", "pause"]);
        assert_eq!(d.exit_code("pause"), 0, "{}", engine.name);
        assert_eq!(d.logs("pause"), SHUTDOWN_INT, "{}", engine.name);
    }
}

for_each_engine! {
    /// Under `--security-opt no-new-privileges` and the shipped seccomp.json, pause starts (the
    /// runtime's window is in the profile), runs filtered and without new privileges, and stops
    /// cleanly.
    fn runs_under_no_new_privileges_and_the_shipped_seccomp_profile(engine) {
        let d = Docker::start(engine);
        d.load(&list_archive());
        let profile = d.visible(&repo_root().join("seccomp.json"));
        let seccomp = format!("seccomp={}", profile.display());
        run_pause(&d, &["--detach", "--name", "pause", "--security-opt", "no-new-privileges", "--security-opt", &seccomp], &AMD64, &[]);
        let pid = d.pid_of("pause");
        assert_eq!(status_field(pid, "Seccomp").as_deref(), Some("2"), "{}", engine.name);
        assert_eq!(status_field(pid, "NoNewPrivs").as_deref(), Some("1"), "{}", engine.name);
        d.ok(&["stop", "pause"]);
        assert_eq!(d.exit_code("pause"), 0, "{}", engine.name);
        assert_eq!(d.logs("pause"), SHUTDOWN_TERM, "{}", engine.name);
    }
}
