//! ppc64le (ELFv2) entry point. The kernel supplies the signal return path (vDSO), so no restorer.

use core::arch::naked_asm;

pub const SA_FLAGS: u32 = 0;
pub const RESTORER: Option<unsafe extern "C" fn()> = None;

/// The process entry point: the kernel jumps here with r1 (16-byte aligned) at argc, followed by
/// argv[], NULL, envp[], and (ELFv2) r12 holding the address of this entry point.
///
/// # Safety
/// Only the kernel may call this, with the initial process stack.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "addis 2, 12, .TOC.-_start@ha", // TOC pointer r2 = entry address + distance to .TOC. (high half)
        "addi 2, 2, .TOC.-_start@l",    // (low half): works wherever the binary was loaded
        "ld 3, 0(1)",                   // 1st argument: argc
        "addi 4, 1, 8",                 // 2nd argument: argv, right above argc
        "li 0, 0",                      // a zero back chain: there is no caller frame
        "stdu 0, -32(1)",               // push the 32-byte minimum frame (r1 stays 16-byte aligned):
                                        // the callee saves LR into it, not over argv
        "bl {main}",                    // pause_main(argc, argv), which never returns
        main = sym crate::pause_main,
    )
}
