//! The doors the integration tests and the benchmark use into the daemon's inner modules,
//! which are otherwise private to the crate (cargo feature `fake`, like the simulated API).
//!
//! Each sub-module is named after the module it opens and re-exports only what the tests
//! drive: starting the daemon or one of its parts against the simulated API, and reading
//! what it published. Nothing here is a second way to do what the daemon does.

/// Starting the whole daemon.
pub mod app {
    pub use crate::app::{start, Running};
}

/// The client, its models and the decoders, for tests that drive them over real HTTP.
pub mod cloudflare {
    pub use crate::cloudflare::{
        ApiError, Client, ClientOptions, Credentials, Endpoint, Observer, RateLimitInfo,
        RateLimiter,
    };

    /// The pagination rule's figures and anomalies.
    pub mod pagination {
        pub use crate::cloudflare::pagination::{Anomaly, DEFAULT_PAGE_CAP};
    }

    /// The streaming decoder of a list page.
    pub mod stream {
        pub use crate::cloudflare::stream::PageDecoder;
    }
}

/// The HTTP server on its own, with shortened limits.
pub mod http {
    pub use crate::http::{bind, serve_with, AppState, Limits, Renderings};
}

/// One rendering of `/metrics`.
pub mod metrics {
    pub use crate::metrics::{render, Format};
}

/// The scheduler, to run cycles by hand.
pub mod scheduler {
    pub use crate::scheduler::{ListingOutcome, Scheduler};

    /// The pure decision on a sync's answer.
    pub mod decide {
        pub use crate::scheduler::decide::{classify_sync, Class};
    }
}

/// Values that never print.
pub mod secret {
    pub use crate::secret::Secret;
}

/// The stop signal.
pub mod shutdown {
    pub use crate::shutdown::Shutdown;
}

/// What the scheduler publishes.
pub mod state {
    pub use crate::state::{AccountView, Action, BlockReason, Outcome, ServerInfo, State};
}

/// The web configuration, for a server started on its own with TLS.
pub mod web {
    pub use crate::web::Web;
}
