//! s390x entry point. The kernel supplies the signal return path (vDSO), so no restorer.

use core::arch::naked_asm;

pub const SA_FLAGS: u32 = 0;
pub const RESTORER: Option<unsafe extern "C" fn()> = None;

/// The process entry point: the kernel jumps here with r15 at argc, followed by argv[], NULL, envp[].
///
/// # Safety
/// Only the kernel may call this, with the initial process stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "lg %r2, 0(%r15)",       // 1st argument: argc
        "la %r3, 8(%r15)",       // 2nd argument: argv, right above argc
        "aghi %r15, -160",       // the 160-byte register save area a callee may write into
        "xc 0(8,%r15), 0(%r15)", // a zero back chain: there is no caller frame
        "jg {main}",             // pause_main(argc, argv); it never returns
        main = sym crate::pause_main,
    )
}
