//! loongarch64 (LP64D) entry point. The kernel returns from signal handlers through its vDSO (it
//! points ra at `__vdso_rt_sigreturn`), so no restorer
//! (its kernel_sigaction has no field for one); pause's handler never returns anyway.

use core::arch::naked_asm;

pub const SA_FLAGS: u32 = 0;
// No RESTORER: this arch's kernel_sigaction has no sa_restorer field.

/// The process entry point: the kernel jumps here with $sp (16-byte aligned) at argc, followed by
/// argv[], NULL, envp[], and $ra = 0 (the end of the frame chain).
///
/// # Safety
/// Only the kernel may call this, with the initial process stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "ld.d $a0, $sp, 0",      // 1st argument: argc
        "addi.d $a1, $sp, 8",    // 2nd argument: argv, right above argc
        "b {main}",              // pause_main(argc, argv), which never returns; $sp stays aligned
        main = sym crate::pause_main,
    )
}
