//! Server configuration: one validated struct built from CLI flags and env.

/// Validated configuration of the signaling server.
#[derive(Debug, Clone, Default)]
pub struct Config {}
