//! Recording what a runtime does under a seccomp filter: seccomp user notification (the OCI
//! spec's `listenerPath`). The runtime hands the filter's notification fd to a unix socket this
//! recorder listens on; the recorder notes each syscall the filter sends it and lets it continue.
use linux_raw_sys::ptrace::{SECCOMP_USER_NOTIF_FLAG_CONTINUE, seccomp_notif, seccomp_notif_resp};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::ioctl::{Opcode, Updater, ioctl, opcode};
use std::collections::BTreeSet;
use std::io::IoSliceMut;
use std::os::fd::OwnedFd;
use std::os::unix::net::{AncillaryData, SocketAncillary, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use syscalls::x86_64::Sysno;

/// The seccomp notification ioctls (linux/seccomp.h): `_IOWR('!', 0, struct seccomp_notif)` and
/// `_IOWR('!', 1, struct seccomp_notif_resp)`.
const SECCOMP_IOCTL_NOTIF_RECV: Opcode = opcode::read_write::<seccomp_notif>(b'!', 0);
const SECCOMP_IOCTL_NOTIF_SEND: Opcode = opcode::read_write::<seccomp_notif_resp>(b'!', 1);

/// A listener on `socket` that records, for every filter handed to it, the syscalls it is
/// notified of, and lets each continue. Stop it to get what it saw.
pub struct Recorder {
    pub socket: PathBuf,
    seen: Arc<Mutex<BTreeSet<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    pub fn listen(socket: &Path) -> Recorder {
        let listener = UnixListener::bind(socket).unwrap_or_else(|e| panic!("cannot listen on {}: {e}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let fd = receive_fd(&stream);
                        let s = s.clone();
                        // One thread per filter: a runtime may start the next container before
                        // the last one's processes are gone.
                        std::thread::spawn(move || serve(fd, &s));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(5)),
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Recorder { socket: socket.to_path_buf(), seen, stop, thread: Some(thread) }
    }

    /// Every syscall notified so far, by name.
    pub fn seen(&self) -> BTreeSet<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The runtime's message: the container state as JSON, with the filter's fd (SCM_RIGHTS).
fn receive_fd(stream: &std::os::unix::net::UnixStream) -> OwnedFd {
    let mut buf = vec![0u8; 1 << 16];
    let mut space = [0u8; 128];
    let mut ancillary = SocketAncillary::new(&mut space);
    stream.recv_vectored_with_ancillary(&mut [IoSliceMut::new(&mut buf)], &mut ancillary).expect("recvmsg from the runtime");
    for message in ancillary.messages() {
        if let Ok(AncillaryData::ScmRights(mut fds)) = message
            && let Some(fd) = fds.next()
        {
            // SAFETY: the kernel just installed this fd in this process for us (SCM_RIGHTS); nothing else owns it.
            return unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        }
    }
    panic!("the runtime sent no fd to the seccomp listener")
}

/// Answers `fd`'s notifications (continue, noting the syscall) until every process under the
/// filter is gone (POLLHUP).
fn serve(fd: OwnedFd, seen: &Mutex<BTreeSet<String>>) {
    loop {
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut p, Some(&Timespec { tv_sec: 60, tv_nsec: 0 })) {
            Err(rustix::io::Errno::INTR) => continue, // a signal to this thread, not the end of the runtime's processes
            Err(_) | Ok(0) => return,
            Ok(_) if p[0].revents().contains(PollFlags::HUP) => return,
            Ok(_) => {}
        }
        // SAFETY: seccomp_notif is plain data; all-zero is what NOTIF_RECV requires.
        let mut req: seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the opcode's direction and size are those of seccomp_notif, which req is.
        if unsafe { ioctl(&fd, Updater::<SECCOMP_IOCTL_NOTIF_RECV, seccomp_notif>::new(&mut req)) }.is_err() {
            continue; // the notifying process died before we received it
        }
        let name = Sysno::new(req.data.nr as usize).map(|s| s.name().to_string()).unwrap_or_else(|| format!("syscall {}", req.data.nr));
        seen.lock().unwrap().insert(name);
        let mut resp = seccomp_notif_resp { id: req.id, val: 0, error: 0, flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE };
        // SAFETY: the opcode's direction and size are those of seccomp_notif_resp, which resp is. A
        // failure (ENOENT: the process is gone) needs no answer.
        let _ = unsafe { ioctl(&fd, Updater::<SECCOMP_IOCTL_NOTIF_SEND, seccomp_notif_resp>::new(&mut resp)) };
    }
}
