//! `echo`: copies stdin to stdout unchanged.
//!
//! The trivial agent, used to benchmark the runtime itself, so it does no work
//! beyond the copy. For WASI it is `no_std`: it calls `fd_read`/`fd_write`
//! directly instead of linking the Rust standard library, which makes the
//! module a few hundred bytes instead of tens of kilobytes. On other targets
//! (for `cargo run` on the host) it uses the standard library.

#![cfg_attr(all(target_os = "wasi", not(test)), no_std, no_main)]

#[cfg(all(target_os = "wasi", not(test)))]
mod wasi {
    //! The WASI preview-1 calls used, declared directly.

    #[repr(C)]
    struct IoVec {
        buf: *const u8,
        len: usize,
    }

    // wasi-libc provides `_start` (crt1-command.o, linked by the target) and
    // what it calls besides `__main_void`: link it explicitly, since
    // `no_std` does not. Only those few functions end up in the module.
    #[link(name = "c")]
    unsafe extern "C" {}

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn fd_read(fd: u32, iovs: *const IoVec, iovs_len: usize, nread: *mut usize) -> u16;
        fn fd_write(fd: u32, iovs: *const IoVec, iovs_len: usize, nwritten: *mut usize) -> u16;
    }

    const STDIN: u32 = 0;
    const STDOUT: u32 = 1;
    const STDERR: u32 = 2;
    const ERRNO_INTR: u16 = 27;

    const BUF_LEN: usize = 64 * 1024;
    static mut BUF: [u8; BUF_LEN] = [0; BUF_LEN];

    /// Reads into `buf`; `None` on error.
    fn read(buf: *mut u8, len: usize) -> Option<usize> {
        loop {
            let iov = IoVec { buf, len };
            let mut n = 0;
            // SAFETY: `iov` describes `len` writable bytes at `buf`.
            match unsafe { fd_read(STDIN, &iov, 1, &mut n) } {
                0 => return Some(n),
                ERRNO_INTR => {}
                _ => return None,
            }
        }
    }

    /// Writes all of `buf[..len]` to `fd`; `false` on error.
    fn write_all(fd: u32, mut buf: *const u8, mut len: usize) -> bool {
        while len > 0 {
            let iov = IoVec { buf, len };
            let mut n = 0;
            // SAFETY: `iov` describes `len` readable bytes at `buf`.
            match unsafe { fd_write(fd, &iov, 1, &mut n) } {
                0 if n > 0 && n <= len => {
                    // SAFETY: `n <= len`, so this stays within the buffer.
                    buf = unsafe { buf.add(n) };
                    len -= n;
                }
                ERRNO_INTR => {}
                _ => return false,
            }
        }
        true
    }

    fn fail(message: &[u8]) -> i32 {
        write_all(STDERR, message.as_ptr(), message.len());
        1
    }

    /// The program: wasi-libc's `_start` calls `__main_void` (what C's
    /// `int main(void)` compiles to) and exits with its return value. Being
    /// defined here, libc's own `__main_void`, which would fetch the
    /// arguments, is not linked.
    #[unsafe(no_mangle)]
    extern "C" fn __main_void() -> i32 {
        let buf = (&raw mut BUF).cast::<u8>();
        loop {
            match read(buf, BUF_LEN) {
                Some(0) => return 0,
                Some(n) => {
                    if !write_all(STDOUT, buf, n) {
                        return fail(b"echo: cannot write stdout\n");
                    }
                }
                None => return fail(b"echo: cannot read stdin\n"),
            }
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }
}

#[cfg(any(not(target_os = "wasi"), test))]
fn main() -> std::process::ExitCode {
    use std::io::{self, Write};
    let mut stdout = io::stdout().lock();
    match io::copy(&mut io::stdin().lock(), &mut stdout).and_then(|_| stdout.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
