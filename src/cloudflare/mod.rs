//! Everything about talking to Cloudflare: the HTTP client, the API's data model, the
//! pagination rule, the per-credential request budget, and the list page's decoder that
//! reads a page as its bytes arrive (`stream`). The tool and prompt definitions a page
//! carries are handed to [`definitions`](crate::definitions) through its one door.
//!
//! The client knows nothing of the daemon's state or metrics: it returns typed results and
//! errors, and reports each request to an observer its caller supplies.

mod client;
mod error;
#[cfg(test)]
#[path = "../../tests/unit/cloudflare/fuzz.rs"]
mod fuzz_tests;
mod lenient;
pub mod model;
pub mod pagination;
pub mod portals;
pub mod ratelimit;
pub mod stream;

#[cfg(any(test, feature = "fake"))]
pub use client::Endpoint;
pub use client::{ApiError, BuildError, Client, ClientOptions, Credentials, Observer};
pub use model::{ListPage, ResultInfo, Server, SyncResult};
#[cfg(any(test, feature = "fake"))]
pub use ratelimit::RateLimitInfo;
pub use ratelimit::RateLimiter;

/// The largest `per_page` the API accepts.
pub const MAX_PER_PAGE: u32 = 100;
