//! armv7 (EABI5, hard-float) entry point, assembled as Thumb-2 like the rest of pause (see
//! .cargo/config.toml). The kernel supplies the signal return path, so no restorer.

use core::arch::naked_asm;

pub const SA_FLAGS: u32 = 0;
pub const RESTORER: Option<unsafe extern "C" fn()> = None;

/// The process entry point: the kernel jumps here with sp (16-byte aligned, more than the AAPCS's
/// 8) at argc, followed by argv[], NULL, envp[], and every general register 0 (fp = lr = 0 end the
/// frame chain).
///
/// # Safety
/// Only the kernel may call this, with the initial process stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "ldr r0, [sp]",          // 1st argument: argc
        "add r1, sp, #4",        // 2nd argument: argv, right above argc
        "b {main}",              // pause_main(argc, argv), which never returns; sp stays aligned
        main = sym crate::pause_main,
    )
}
