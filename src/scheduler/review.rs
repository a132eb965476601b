//! The review of a server's tool and prompt definitions, kept between listings: drift from
//! the pins and definitions that break a rule for hidden instructions. A server's
//! definitions are looked at closely (`definitions::stable`) only when their fast
//! fingerprints are new or the pins were reloaded ([`needs_look`]); between those looks the
//! last review stands, so drift stays visible across cycles until the pins approve it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::definitions::stable::{Inspected, StableTable};
use crate::definitions::table::Change;
use crate::state::{Drift, Review};

/// What the scheduler remembers of a server's last review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reviewed {
    /// The digest of the fingerprints it judged.
    pub digest: u64,
    /// The pins' generation it was judged against.
    pub generation: u32,
    /// What it found.
    pub review: Review,
    /// A hash of the drifting definitions' names, so that a change of which ones drift is
    /// logged even when the counts stay.
    pub drift_names: u64,
    /// A hash of the flagged definitions' names and rules.
    pub flagged_names: u64,
}

/// Whether a server's definitions need a close look: never reviewed, their fingerprints
/// changed since, or the pins were reloaded since.
pub fn needs_look(last: Option<&Reviewed>, digest: u64, generation: u32) -> bool {
    !matches!(last, Some(r) if r.digest == digest && r.generation == generation)
}

/// The review of `inspected`: against `pins` when a pin file is configured (`Some`, with
/// the server's pins if it has any), and by the rules. Also what drifts, by name.
pub fn judge(inspected: &Inspected, pins: Option<Option<&StableTable>>) -> (Review, Change) {
    let change = pins
        .map(|pinned| crate::pins::drift(&inspected.definitions, pinned))
        .unwrap_or_default();
    let count = |v: &[String]| u32::try_from(v.len()).unwrap_or(u32::MAX);
    let drift = pins.map(|_| Drift {
        added: count(&change.added),
        changed: count(&change.changed),
        removed: count(&change.removed),
    });
    let review = Review {
        drift,
        suspicious: inspected.suspicious.counts,
    };
    (review, change)
}

/// A hash of names (`DefaultHasher::new()` has fixed keys: the same in every run).
pub fn names(what: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    what.hash(&mut h);
    h.finish()
}

#[cfg(test)]
#[path = "../../tests/unit/scheduler/review.rs"]
mod tests;
