//! Chela's kernel: the one decision point for every effect.
//!
//! This crate is pure: it performs no I/O except parsing policy text handed to it. It classifies
//! shell commands with a real parser ([`shell`], [`classify()`]), and (in later modules) layers
//! policy files, decides about effects, binds approvals and trips loop breakers.

pub mod classify;
pub mod paths;
pub mod shell;

pub use classify::{classify, classify_argv, Classification, CommandClass, Segment};
pub use paths::CommandContext;
