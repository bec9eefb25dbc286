//! Chela's agent: the loop that talks to a model and asks for effects.
//!
//! The loop is treated as untrusted (DESIGN.md): it builds requests, reads the model's replies and
//! *asks* for tool calls; the tools module executes them only through the owning crates
//! (`chela-sandbox` for files and processes, `chela-net` for HTTP) and every step is audited before
//! it runs and after.

mod agent;
pub mod config;
pub mod guard;
pub mod kernel;
pub mod prompt;
pub mod provider;
pub mod tools;

pub use agent::{Agent, AgentError, AgentEvent, AgentParts, Progress, TaskOutcome};
