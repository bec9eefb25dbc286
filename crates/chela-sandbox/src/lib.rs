//! Chela's sandbox: the only code in Chela that starts processes or touches files for a tool.
//!
//! * [`fs`] — workspace-confined, in-process file access for the `read`/`write`/`edit`/`list`
//!   tools (`openat2` with `RESOLVE_BENEATH`).
//!
//! See `README.md` in this crate for the threat model and the layers.

pub mod fs;
