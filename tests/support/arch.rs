//! The architectures pause ships for: one row each, holding every per-arch fact the tests and tools use.

/// One architecture pause ships for. Everything else holds a `&'static Arch`, never its name.
#[derive(Debug, PartialEq)]
pub struct Arch {
    /// The Kubernetes (and Go, and seccomp.json) name: amd64, arm, arm64, ppc64le, s390x, riscv64, loong64.
    pub name: &'static str,
    /// The Rust target that builds it.
    pub triple: &'static str,
    /// The OCI platform, as `--platform` takes it: linux/<architecture>[/<variant>].
    pub platform: &'static str,
    /// How this (x86_64) machine runs it; None: natively.
    pub qemu: Option<Qemu>,
    /// What the ELF header and program headers must say.
    pub elf: Elf,
    /// Size budget of the release binary, in bytes (tests/binary.rs enforces it).
    pub max_bytes: u64,
    /// How qemu-system boots this arch's kernels (tests/kernel.rs).
    pub system: System,
    /// The Debian kernels the behaviour contract is checked on (tests/kernels fetches them).
    pub kernels: &'static [Kernel],
}

/// qemu-system (TCG) for this arch, as tests/kernels installs it: a whole machine with its own kernel.
#[derive(Debug, PartialEq)]
pub struct System {
    /// The emulator binary.
    pub binary: &'static str,
    /// Machine, CPU and firmware.
    pub machine: &'static [&'static str],
    /// The serial console the kernel writes to (console=).
    pub console: &'static str,
}

/// One Debian kernel: `kernel(suite, Debian arch, package, page size)`; tests/kernels reads these
/// lines to fetch each package (and busybox-static from the same suite and arch).
#[derive(Debug, PartialEq)]
pub struct Kernel {
    pub suite: &'static str,
    pub debian_arch: &'static str,
    /// The kernel's metapackage (its Depends lead to the image).
    pub package: &'static str,
    /// The page size the kernel is built for, in bytes.
    pub page_size: u64,
}

const fn kernel(suite: &'static str, debian_arch: &'static str, package: &'static str, page_size: u64) -> Kernel {
    Kernel { suite, debian_arch, package, page_size }
}

use linux_raw_sys::elf_uapi::{EM_AARCH64, EM_ARM, EM_LOONGARCH, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};

/// qemu-user for a foreign arch.
#[derive(Debug, PartialEq)]
pub struct Qemu {
    /// The emulator binary (Debian's qemu-user-static).
    pub binary: &'static str,
    /// Its binfmt_misc entry, /proc/sys/fs/binfmt_misc/<binfmt> (and /usr/lib/binfmt.d/<binfmt>.conf).
    pub binfmt: &'static str,
}

/// ELF facts of one arch's binary.
#[derive(Debug, PartialEq)]
pub struct Elf {
    pub class64: bool,
    pub big_endian: bool,
    pub machine: u16,
    /// e_flags the binary must carry (ppc64le: 2, the ELFv2 ABI; arm: EABI5 + hard-float; riscv64:
    /// RVC + double-float ABI; loong64: LP64D + object ABI v1).
    pub flags: u32,
    /// PT_LOAD alignment: the largest page size kernels of the arch use.
    pub p_align: u64,
}

impl Arch {
    /// The OCI architecture field (amd64, arm, ...).
    pub fn oci_architecture(&self) -> &'static str {
        self.platform.split('/').nth(1).unwrap()
    }
    /// The OCI variant field, if the platform has one (arm: v7).
    pub fn oci_variant(&self) -> Option<&'static str> {
        self.platform.split('/').nth(2)
    }
    /// Size of the ELF header plus the two program headers the linker script writes.
    pub fn header_bytes(&self) -> u64 {
        use linux_raw_sys::elf_uapi::{elf32_hdr, elf32_phdr, elf64_hdr, elf64_phdr};
        use std::mem::size_of;
        let (hdr, phdr) = if self.elf.class64 {
            (size_of::<elf64_hdr>(), size_of::<elf64_phdr>())
        } else {
            (size_of::<elf32_hdr>(), size_of::<elf32_phdr>())
        };
        (hdr + 2 * phdr) as u64
    }
}

const fn qemu(binary: &'static str, binfmt: &'static str) -> Option<Qemu> {
    Some(Qemu { binary, binfmt })
}

pub const AMD64: Arch = Arch {
    name: "amd64",
    triple: "x86_64-unknown-linux-gnu",
    platform: "linux/amd64",
    qemu: None,
    elf: Elf { class64: true, big_endian: false, machine: EM_X86_64 as u16, flags: 0, p_align: 0x1000 },
    max_bytes: 640,
    system: System { binary: "qemu-system-x86_64", machine: &["-M", "q35", "-bios", "qboot.rom"], console: "ttyS0" },
    kernels: &[kernel("bookworm", "amd64", "linux-image-amd64", 4096)],
};
pub const ARM: Arch = Arch {
    name: "arm",
    triple: "armv7-unknown-linux-gnueabihf",
    platform: "linux/arm/v7",
    qemu: qemu("qemu-arm-static", "qemu-arm"),
    elf: Elf { class64: false, big_endian: false, machine: EM_ARM as u16, flags: 0x0500_0400, p_align: 0x10000 },
    max_bytes: 700,
    system: System { binary: "qemu-system-arm", machine: &["-M", "virt", "-cpu", "cortex-a15"], console: "ttyAMA0" },
    kernels: &[kernel("bookworm", "armhf", "linux-image-armmp-lpae", 4096)],
};
pub const ARM64: Arch = Arch {
    name: "arm64",
    triple: "aarch64-unknown-linux-gnu",
    platform: "linux/arm64",
    qemu: qemu("qemu-aarch64-static", "qemu-aarch64"),
    elf: Elf { class64: true, big_endian: false, machine: EM_AARCH64 as u16, flags: 0, p_align: 0x10000 },
    max_bytes: 760,
    // neoverse-n1: a core with 16 KiB pages (cortex-a57 has only 4 and 64).
    system: System { binary: "qemu-system-aarch64", machine: &["-M", "virt", "-cpu", "neoverse-n1"], console: "ttyAMA0" },
    kernels: &[kernel("bookworm", "arm64", "linux-image-arm64", 4096), kernel("trixie", "arm64", "linux-image-arm64-16k", 16384)],
};
pub const PPC64LE: Arch = Arch {
    name: "ppc64le",
    triple: "powerpc64le-unknown-linux-gnu",
    platform: "linux/ppc64le",
    qemu: qemu("qemu-ppc64le-static", "qemu-ppc64le"),
    elf: Elf { class64: true, big_endian: false, machine: EM_PPC64 as u16, flags: 2, p_align: 0x10000 },
    max_bytes: 940,
    // x-vof: the built-in firmware (SLOF boots 15 s slower).
    system: System { binary: "qemu-system-ppc64", machine: &["-M", "pseries,x-vof=on"], console: "hvc0" },
    kernels: &[kernel("bookworm", "ppc64el", "linux-image-powerpc64le", 65536)],
};
pub const S390X: Arch = Arch {
    name: "s390x",
    triple: "s390x-unknown-linux-gnu",
    platform: "linux/s390x",
    qemu: qemu("qemu-s390x-static", "qemu-s390x"),
    elf: Elf { class64: true, big_endian: true, machine: EM_S390 as u16, flags: 0, p_align: 0x1000 },
    max_bytes: 780,
    system: System { binary: "qemu-system-s390x", machine: &["-M", "s390-ccw-virtio"], console: "ttysclp0" },
    kernels: &[kernel("bookworm", "s390x", "linux-image-s390x", 4096)],
};
pub const RISCV64: Arch = Arch {
    name: "riscv64",
    triple: "riscv64gc-unknown-linux-gnu",
    platform: "linux/riscv64",
    qemu: qemu("qemu-riscv64-static", "qemu-riscv64"),
    elf: Elf { class64: true, big_endian: false, machine: EM_RISCV as u16, flags: 0x5, p_align: 0x1000 },
    max_bytes: 720,
    // The bundled OpenSBI firmware.
    system: System { binary: "qemu-system-riscv64", machine: &["-M", "virt"], console: "ttyS0" },
    kernels: &[kernel("trixie", "riscv64", "linux-image-riscv64", 4096)],
};
pub const LOONG64: Arch = Arch {
    name: "loong64",
    triple: "loongarch64-unknown-linux-gnu",
    platform: "linux/loong64",
    qemu: qemu("qemu-loongarch64-static", "qemu-loongarch64"),
    elf: Elf { class64: true, big_endian: false, machine: EM_LOONGARCH as u16, flags: 0x43, p_align: 0x10000 },
    max_bytes: 800,
    system: System {
        binary: "qemu-system-loongarch64",
        machine: &["-M", "virt", "-bios", "/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd"],
        console: "ttyS0",
    },
    kernels: &[kernel("sid", "loong64", "linux-image-loong64", 16384)],
};

/// Every arch, in the order of every table.
pub const ARCHES: [&Arch; 7] = [&AMD64, &ARM, &ARM64, &PPC64LE, &S390X, &RISCV64, &LOONG64];

/// Expands one test body into one #[test] per architecture: `name::amd64`, `name::arm`, ...
#[macro_export]
macro_rules! for_each_arch {
    ($($body:tt)*) => {
        $crate::for_each_row!($crate::arch::Arch; amd64 => $crate::arch::AMD64, arm => $crate::arch::ARM, arm64 => $crate::arch::ARM64, ppc64le => $crate::arch::PPC64LE, s390x => $crate::arch::S390X, riscv64 => $crate::arch::RISCV64, loong64 => $crate::arch::LOONG64; $($body)*);
    };
}
