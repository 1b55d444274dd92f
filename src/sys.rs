//! Thin typed wrappers over the raw syscalls pause makes. Nothing here allocates or can panic.
//!
//! Results follow the kernel's convention: a value in -4095..=-1 is -errno.

use core::ffi::c_int;
use linux_raw_sys::errno::EINTR;
use linux_raw_sys::general::{WNOHANG, kernel_sigaction, kernel_sigset_t};
use syscalls::{Sysno, raw};

pub use linux_raw_sys::general::{SIGCHLD, SIGINT, SIGTERM};

/// A file descriptor pause writes to.
#[derive(Clone, Copy)]
pub struct Fd(usize);
pub const STDOUT: Fd = Fd(1);
pub const STDERR: Fd = Fd(2);

/// Writes `msg` with one write(2). A failure (closed stdout or stderr, a full pipe) is ignored, as
/// pause.c ignores psignal's and printf's: nothing pause does next depends on being heard.
pub fn write(fd: Fd, msg: &[u8]) {
    // SAFETY: write(2) reads msg.len() bytes from a live slice and writes no memory of ours.
    unsafe { raw::syscall3(Sysno::write as usize, fd.0, msg.as_ptr() as usize, msg.len()) };
}

/// Ends the process (every thread; pause has one) with exit status `code` (0..=255). The one exit
/// path of pause: not inlined, so each caller only loads the code and jumps here.
#[inline(never)]
pub fn exit(code: usize) -> ! {
    // SAFETY: exit_group(2) takes no pointers and does not return.
    unsafe { raw::syscall1(Sysno::exit_group as usize, code) };
    // SAFETY: exit_group never returns, so this point is never reached.
    unsafe { core::hint::unreachable_unchecked() }
}

/// getpid(2): 1 when pause is the init of its PID namespace.
pub fn getpid() -> usize {
    // SAFETY: getpid(2) takes no arguments and cannot fail.
    unsafe { raw::syscall0(Sysno::getpid as usize) }
}

/// A signal action: what rt_sigaction(2) installs.
pub struct Action(kernel_sigaction);

impl Action {
    /// Run `handler`, with SIGINT and SIGTERM both blocked while it runs so that only one
    /// shutdown line is ever printed; SA_RESTORER and the restorer where the arch needs them.
    pub fn run(handler: extern "C" fn(c_int)) -> Action {
        // SAFETY: extern "C" fn(c_int) and unsafe extern "C" fn(c_int) have the same ABI and
        // representation; the kernel calls the handler with the signal number.
        let handler = unsafe { core::mem::transmute::<extern "C" fn(c_int), unsafe extern "C" fn(c_int)>(handler) };
        let mut mask = kernel_sigset_t { sig: [0; _] };
        mask.sig[0] = (1 << (SIGINT - 1)) | (1 << (SIGTERM - 1));
        Action(kernel_sigaction {
            sa_handler_kernel: Some(handler),
            sa_flags: crate::arch::SA_FLAGS as _,
            // riscv64 and loongarch64 have no sa_restorer field: the kernel always uses its vDSO.
            #[cfg(not(any(target_arch = "riscv64", target_arch = "loongarch64")))]
            sa_restorer: crate::arch::RESTORER,
            sa_mask: mask,
        })
    }

    /// Turns this action into SIG_IGN (the mask and flags then do not matter). For SIGCHLD this
    /// makes the kernel release every child at its exit: no zombie, no signal, no wake-up.
    pub fn ignore(&mut self) {
        // SAFETY: SIG_IGN is the handler value 1, which the kernel never calls; the handler field
        // is a nullable function pointer, and 1 is a valid (non-null) bit pattern for it.
        self.0.sa_handler_kernel = unsafe { core::mem::transmute::<usize, Option<unsafe extern "C" fn(c_int)>>(1) };
    }
}

/// rt_sigaction(2): installs `action` for `signal`. Returns whether the kernel accepted it.
pub fn set_action(signal: u32, action: &Action) -> bool {
    // SAFETY: `action` is a live kernel_sigaction laid out for this architecture by linux-raw-sys,
    // the old-action pointer is null (not wanted), and the size is this architecture's sigset size.
    let ret = unsafe {
        raw::syscall4(
            Sysno::rt_sigaction as usize,
            signal as usize,
            &action.0 as *const kernel_sigaction as usize,
            0,
            size_of::<kernel_sigset_t>(),
        )
    };
    ret == 0
}

/// wait4(-1, NULL, WNOHANG, NULL): releases one zombie child. Returns true if it did, false when
/// none is left (0), there are no children (-ECHILD), or the call fails.
pub fn reap_one_zombie() -> bool {
    // SAFETY: null status and rusage pointers tell the kernel to write nothing back.
    let ret = unsafe { raw::syscall4(Sysno::wait4 as usize, -1isize as usize, 0, WNOHANG as usize, 0) };
    (ret as isize) > 0
}

/// Sleeps until a signal handler has run. Returns true if it did (EINTR), false if the sleep
/// failed for any other reason. pause(2) where it exists; aarch64, riscv64 and loongarch64 (the
/// generic syscall table) have only ppoll(NULL, 0, NULL, NULL).
pub fn sleep_until_signal() -> bool {
    #[cfg(not(any(target_arch = "aarch64", target_arch = "riscv64", target_arch = "loongarch64")))]
    // SAFETY: pause(2) takes no arguments.
    let ret = unsafe { raw::syscall0(Sysno::pause as usize) };
    #[cfg(any(target_arch = "aarch64", target_arch = "riscv64", target_arch = "loongarch64"))]
    // SAFETY: no fds, no timeout and no mask: ppoll only sleeps, and reads and writes nothing.
    let ret = unsafe { raw::syscall4(Sysno::ppoll as usize, 0, 0, 0, 0) };
    ret as isize == -(EINTR as isize)
}
