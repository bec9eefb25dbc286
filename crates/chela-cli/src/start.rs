//! Process start-up without the Rust runtime's own (`#![no_main]`).
//!
//! `chela` is started often and briefly: `chela sandbox run` wraps other programs, and its
//! whole-process time is measured against bubblewrap (issue 3). The standard runtime's start-up
//! finds the main thread's stack by parsing `/proc/self/maps` (for its stack-overflow message)
//! and maps an alternate signal stack, on every start, for every command. Chela keeps what it
//! relies on, here, and drops the rest:
//!
//! - file descriptors 0, 1 and 2 are open (on `/dev/null` if the caller closed them), so a file
//!   Chela opens, such as the audit log, can never become its stdout;
//! - `SIGPIPE` is ignored: writing to a closed pipe is an error Chela reports, not a silent
//!   death (the sandbox restores the default for the programs it runs);
//! - stdout is flushed before exit;
//! - a panic ends the process with status 101 after its message, as with the standard runtime.
//!
//! What is given up: a stack overflow ends with a plain `SIGSEGV` instead of a message. The
//! guard page itself is the kernel's and still stops it.

use std::io::Write;

/// Runs `body` as the whole program and returns its exit status for the C runtime.
pub fn run(body: fn() -> u8) -> libc::c_int {
    if !standard_fds_open() {
        // The runtime aborts here too: without /dev/null there is no safe way on.
        std::process::abort();
    }
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = std::panic::catch_unwind(body).unwrap_or(101);
    let _ = std::io::stdout().flush();
    libc::c_int::from(code)
}

/// Makes sure fds 0–2 are open, opening `/dev/null` on any that is closed. False if one is
/// closed and `/dev/null` cannot be opened.
fn standard_fds_open() -> bool {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd; a zero timeout never blocks.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    if r < 0 {
        return false;
    }
    for p in fds {
        if p.revents & libc::POLLNVAL != 0 {
            // SAFETY: a constant NUL-terminated path; the lowest free descriptor is the closed one.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != p.fd {
                return false;
            }
        }
    }
    true
}
