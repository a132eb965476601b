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

/// The close look at a server's definitions.
pub mod definitions {
    pub use crate::definitions::inspect;
}

/// The HTTP server on its own, with shortened limits.
pub mod http {
    pub use crate::http::{bind, serve_with, AppState, Limits, Renderings};
}

/// One rendering of `/metrics`.
pub mod metrics {
    pub use crate::metrics::{render, Format};
}

/// The pin file, for the benchmark's figures of its tables.
pub mod pins {
    pub use crate::pins::{load, PinSet};
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
    pub use crate::state::{
        AccountView, Action, BlockReason, Outcome, ServerInfo, ServerState, State,
    };
}

/// The web configuration, for a server started on its own with TLS.
pub mod web {
    pub use crate::web::Web;
}

/// What the fuzz targets drive (`fuzz/`), and the stable regression test replays: each
/// parser facing the network or a file, fed bytes it must never panic on.
pub mod fuzz {
    use std::path::Path;

    /// A list page fed to the streaming decoder in the chunks the first bytes choose, as a
    /// page of servers and as a page of portals.
    pub fn list_page(data: &[u8]) {
        use crate::cloudflare::stream::{Page, PageDecoder};
        fn chunked<P: Page>(mut d: PageDecoder<P>, data: &[u8]) {
            let (sizes, mut rest) = data.split_at(data.len().min(4));
            let mut i = 0;
            while !rest.is_empty() {
                let size =
                    usize::from(sizes.get(i % sizes.len().max(1)).copied().unwrap_or(255)).max(1);
                let (chunk, tail) = rest.split_at(size.min(rest.len()));
                d.feed(chunk);
                rest = tail;
                i += 1;
            }
            let _ = d.finish();
        }
        chunked(PageDecoder::new(), data);
        chunked(
            PageDecoder::<crate::cloudflare::portals::PortalPage>::default(),
            data,
        );
    }

    /// A sync answer (and the error envelope of a refused request).
    pub fn sync_answer(data: &[u8]) {
        use crate::cloudflare::model;
        if let Ok(env) = model::decode_envelope::<crate::cloudflare::SyncResult>(data) {
            let _ = env.accepted(crate::vocabulary::Endpoint::Sync, 200);
        }
        let _ = model::decode_errors(data);
    }

    /// A web configuration file.
    pub fn web_config(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::web::file::parse(Path::new("/etc/mcp/web.yml"), text);
        }
    }

    /// A TOML configuration file, validated as the daemon validates it.
    pub fn config_file(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let env = crate::config::Env::default();
            let _ = crate::config::load_text(Path::new("/etc/mcp/config.toml"), text, &env);
        }
    }

    /// A server object's definitions, looked at closely (stable fingerprints, rules), and
    /// the same bytes as the definitions list of the fast pass.
    pub fn definitions(data: &[u8]) {
        let _ = crate::definitions::inspect(data);
        let mut de = serde_json::Deserializer::from_slice(data);
        if let Ok(defs) = crate::definitions::defs(&mut de) {
            let _ = crate::definitions::fingerprint::suspicious_of(defs.as_ref(), None);
        }
    }

    /// A pin file.
    pub fn pin_file(data: &[u8]) {
        let _ = crate::pins::parse(data);
    }

    /// The `Ratelimit` and `Retry-After` headers.
    pub fn ratelimit_header(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::cloudflare::ratelimit::parse_ratelimit(text);
            let _ = crate::cloudflare::ratelimit::parse_retry_after(text);
        }
    }
}
