//! Everything about an MCP server's tool and prompt definitions, which Cloudflare copies from
//! the upstream server and an upstream author writes: their fast fingerprints for change
//! detection, the canonical form and SHA-256 for pins, the rules for hidden instructions,
//! and the compact per-server tables all three are kept in.
//!
//! # Layout
//!
//! - [`rules`]: which text breaks a rule for hidden instructions (pure functions of a string).
//! - [`table`]: definitions by name with a hash each, in one allocation, and their diff.
//! - [`fingerprint`]: the keyed fast hash of each definition, taken while serde_json decodes
//!   it (uses `rules`, `table`).
//! - [`stable`]: the close look for pins: the canonical form, its SHA-256, the rules again
//!   (uses `rules`, `table`).
//!
//! Nothing here imports `cloudflare`, the state or the scheduler. `cloudflare` comes in
//! through one door, the items re-exported below: the page decoder hands each server's
//! `tools` and `prompts` to [`defs`], asks for a [`digest`], and takes a close look
//! ([`inspect`]) at the servers its caller wants; `sanitize` asks [`hidden`].

pub mod fingerprint;
pub mod rules;
pub mod stable;
pub mod table;

pub use fingerprint::{defs, digest, Defs};
pub use rules::hidden;
pub use stable::{inspect, Inspected};
