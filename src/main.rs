//! pause: the pod infrastructure process, as Kubernetes' `build/pause/linux/pause.c`.
//!
//! It holds the pod's namespaces open, reaps what is left to it, and otherwise sleeps.
//! This file is the whole policy; the machine details live in `sys.rs` and `arch/`.
#![no_std]
#![no_main]

mod sys;

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(target_arch = "arm", path = "arch/arm.rs")]
#[cfg_attr(target_arch = "powerpc64", path = "arch/powerpc64.rs")]
#[cfg_attr(target_arch = "s390x", path = "arch/s390x.rs")]
#[cfg_attr(target_arch = "riscv64", path = "arch/riscv64.rs")]
#[cfg_attr(target_arch = "loongarch64", path = "arch/loongarch64.rs")]
mod arch;

use sys::{SIGCHLD, SIGINT, SIGTERM, STDERR, STDOUT};

const VERSION: &[u8] = concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION"), "\n").as_bytes();
const NOT_PID_1: &[u8] = b"Warning: pause should be the first process\n";
const GOT_SIGINT: &[u8] = b"Shutting down, got signal: Interrupt\n";
const GOT_SIGTERM: &[u8] = b"Shutting down, got signal: Terminated\n";

/// SIGINT and SIGTERM: say which one came (one line, one write), then exit 0, as pause.c's `sigdown`.
extern "C" fn sigdown(signal: core::ffi::c_int) {
    sys::write(STDERR, if signal == SIGINT as _ { GOT_SIGINT } else { GOT_SIGTERM });
    sys::exit(0)
}

/// Called once by `arch::_start` with the initial stack's argc and argv.
///
/// # Safety
/// `argv` must point to `argc` valid pointers to NUL-terminated strings (the kernel's initial stack).
#[unsafe(no_mangle)]
unsafe extern "C" fn pause_main(argc: isize, argv: *const *const u8) -> ! {
    // `pause -v`, `-V`, `x -v`: any argument after argv[0] (none at all when argc is 0).
    for i in 1..argc {
        // SAFETY: i < argc, so argv[i] is one of the kernel's NUL-terminated argument strings.
        if unsafe { is_dash_v(*argv.offset(i)) } {
            sys::write(STDOUT, VERSION);
            sys::exit(0)
        }
    }

    if sys::getpid() != 1 {
        sys::write(STDERR, NOT_PID_1);
    }

    let mut action = sys::Action::run(sigdown);
    if !sys::set_action(SIGINT, &action) {
        sys::exit(1)
    }
    if !sys::set_action(SIGTERM, &action) {
        sys::exit(2)
    }

    // pause.c reaps in a SIGCHLD handler: one wake-up, and one wait loop, per burst of dead
    // children. Ignoring SIGCHLD instead makes the kernel release every child at its exit, orphans
    // reparented to us as PID 1 included, and wakes us for none of them. The kernel does not
    // release zombies that already exist (children inherited across exec), so sweep those once.
    action.ignore();
    if !sys::set_action(SIGCHLD, &action) {
        sys::exit(3)
    }
    while sys::reap_one_zombie() {}

    // Sleep until a signal handler runs; sigdown never returns, so this only ends if the sleep
    // itself fails (a seccomp filter that denies it, say): exit then rather than spin on the CPU.
    while sys::sleep_until_signal() {}
    sys::exit(42)
}

/// `-v` in any case, as pause.c's `strcasecmp(argv[i], "-v")`.
///
/// # Safety
/// `arg` must be a valid NUL-terminated string.
unsafe fn is_dash_v(arg: *const u8) -> bool {
    // SAFETY: each byte is read only after the previous one was not NUL, so all reads are in bounds.
    unsafe { *arg == b'-' && *arg.add(1) | 0x20 == b'v' && *arg.add(2) == 0 }
}

/// Built only by tests/binary.rs, to prove the link's two guards bite (build.rs keeps it in the
/// link): with `pause_panic_probe`, an index the optimiser cannot prove in bounds, whose panic path
/// must fail the link (see `panic` below); with `pause_reloc_probe`, a table of addresses, which a
/// position-independent binary could only hold with load-time relocations.
#[cfg(any(pause_panic_probe, pause_reloc_probe))]
#[unsafe(no_mangle)]
#[allow(unused_variables)] // n: used by the panic probe only
extern "C" fn pause_probe(n: usize) {
    #[cfg(pause_panic_probe)]
    core::hint::black_box([0u8; 1][core::hint::black_box(n)]);
    #[cfg(pause_reloc_probe)]
    core::hint::black_box(&[GOT_SIGINT, GOT_SIGTERM] as &[&[u8]]);
}

/// Nothing in pause can panic (the tests prove it: a panic path fails the link), so this is never
/// called. It names a symbol that exists nowhere: any panic left in the code makes the link fail.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe extern "C" {
        /// Deliberately undefined: referencing it means a panic path survived optimisation.
        fn pause_must_not_panic() -> !;
    }
    // SAFETY: never runs; the symbol is undefined, so a build that could reach this does not link.
    unsafe { pause_must_not_panic() }
}
