//! The few words every layer shares: which Cloudflare call a request was, and what went
//! wrong with a listing walk. They are label values of the metrics; the client produces
//! them, the scheduler counts them, the state publishes them and the metrics render them,
//! so they belong to none of those.

use std::fmt;

/// Which call a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET …/mcp/servers`
    List,
    /// `POST …/mcp/servers/{id}/sync`
    Sync,
    /// `GET …/mcp/servers/{id}`
    Read,
    /// `GET …/mcp/portals`
    Portals,
}

impl Endpoint {
    /// Every endpoint, for rendering.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::List,
        Endpoint::Sync,
        Endpoint::Read,
        Endpoint::Portals,
    ];

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::List => "list",
            Endpoint::Sync => "sync",
            Endpoint::Read => "read",
            Endpoint::Portals => "portals",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong with a walk, beyond a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    /// A page shorter than `per_page` was followed by a page of new servers.
    PageSizeNotHonoured,
    /// A full page brought no server not already seen in this walk.
    RepeatedPage,
    /// The walk reached its page cap.
    PageCapReached,
    /// The list changed under the walk: `result_info.total_count` changed between pages, or
    /// a server missing from the listing still exists.
    ListChanged,
}

impl Anomaly {
    /// Every kind, so that their counters start at 0.
    pub const ALL: [Anomaly; 4] = [
        Anomaly::PageSizeNotHonoured,
        Anomaly::RepeatedPage,
        Anomaly::PageCapReached,
        Anomaly::ListChanged,
    ];

    /// The metric's `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Anomaly::PageSizeNotHonoured => "page_size_not_honoured",
            Anomaly::RepeatedPage => "repeated_page",
            Anomaly::PageCapReached => "page_cap_reached",
            Anomaly::ListChanged => "list_changed",
        }
    }

    /// What an operator reads in the log.
    pub fn describe(self) -> &'static str {
        match self {
            Anomaly::PageSizeNotHonoured => "a page shorter than per_page was followed by more servers: the API does not honour per_page; this account is now walked until an empty page",
            Anomaly::RepeatedPage => "a full page brought no server not already seen: the API repeats pages; the listing is incomplete and the previous snapshot stays",
            Anomaly::PageCapReached => "the walk reached its page cap; the listing is incomplete and the previous snapshot stays",
            Anomaly::ListChanged => "the list changed while it was walked (its total_count changed between pages, or a server missing from it still exists); the listing is incomplete and the previous snapshot stays",
        }
    }
}

/// A rule for hidden instructions in a definition (any string of it: name, description,
/// schema, object keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// Characters that render as nothing: zero-width space, non-joiner and joiner
    /// (U+200B–U+200D), word joiner and invisible operators (U+2060–U+2064), the byte order
    /// mark used as a zero-width no-break space (U+FEFF), soft hyphen (U+00AD), Mongolian
    /// vowel separator (U+180E).
    InvisibleCharacters,
    /// Bidirectional controls, which reorder what a person sees: embeddings and overrides
    /// (U+202A–U+202E), isolates (U+2066–U+2069), marks (U+200E, U+200F, U+061C).
    BidiControls,
    /// Unicode tag characters (U+E0000–U+E007F): an invisible copy of ASCII that models read.
    TagCharacters,
    /// Markup addressed to the model rather than a person; see `definitions::rules`'s
    /// `MARKUP_TAGS` and `MARKUP_TOKENS`.
    InstructionMarkup,
}

impl Rule {
    /// Every rule, in label order.
    pub const ALL: [Rule; 4] = [
        Rule::BidiControls,
        Rule::InstructionMarkup,
        Rule::InvisibleCharacters,
        Rule::TagCharacters,
    ];

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::InvisibleCharacters => "invisible_characters",
            Rule::BidiControls => "bidi_controls",
            Rule::TagCharacters => "tag_characters",
            Rule::InstructionMarkup => "instruction_markup",
        }
    }

    /// Its position in [`Rule::ALL`].
    pub fn index(self) -> usize {
        Rule::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}
