//! x86_64 entry point and signal restorer.

use core::arch::naked_asm;
use linux_raw_sys::general::SA_RESTORER;

/// x86_64 signal delivery fails unless the action names a restorer (the kernel has no default).
pub const SA_FLAGS: u32 = SA_RESTORER;
pub const RESTORER: Option<unsafe extern "C" fn()> = Some(restore_rt);

/// The process entry point: the kernel jumps here with rsp at argc, followed by argv[], NULL,
/// envp[]. rsp is 16-byte aligned (psABI 3.4.1) and rbp is 0 (the kernel clears it: the end of
/// the frame chain).
///
/// # Safety
/// Only the kernel may call this, with the initial process stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "pop rdi",               // 1st argument: argc; rsp now points at argv and is 8 mod 16,
                                 // exactly as after a call
        "mov rsi, rsp",          // 2nd argument: argv
        "jmp {main}",            // pause_main(argc, argv), which never returns
        main = sym crate::pause_main,
    )
}

/// Returns from a signal handler: rt_sigreturn(2) restores the interrupted context.
///
/// # Safety
/// Only the kernel's signal frame may "return" here (it is `sa_restorer`).
#[unsafe(naked)]
unsafe extern "C" fn restore_rt() {
    naked_asm!(
        "push {nr}",             // syscall number: rt_sigreturn ...
        "pop rax",               // ... into rax (3 bytes where mov eax takes 5)
        "syscall",               // restores registers and mask from the frame on the stack
        nr = const syscalls::Sysno::rt_sigreturn as u32,
    )
}
