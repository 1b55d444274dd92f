//! aarch64 entry point. The kernel supplies the signal return path (vDSO), so no restorer.

use core::arch::naked_asm;

pub const SA_FLAGS: u32 = 0;
pub const RESTORER: Option<unsafe extern "C" fn()> = None;

/// The process entry point: the kernel jumps here with sp (16-byte aligned) at argc, followed by
/// argv[], NULL, envp[], and every general register 0 (x29 = x30 = 0 end the frame chain).
///
/// # Safety
/// Only the kernel may call this, with the initial process stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "ldr x0, [sp]",          // 1st argument: argc
        "add x1, sp, #8",        // 2nd argument: argv, right above argc
        "b {main}",              // pause_main(argc, argv), which never returns; sp stays aligned
        main = sym crate::pause_main,
    )
}
