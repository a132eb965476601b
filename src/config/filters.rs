//! The include/exclude filters: glob patterns (`*`, `?`) on a server's id or name, compiled
//! once when the configuration is loaded (`wildmatch`), not per server and cycle.

use wildmatch::WildMatch;

use super::Config;

/// Compiled glob patterns (each displays as `wildmatch` keeps it, `**` written as `*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Globs(pub Vec<WildMatch>);

impl Globs {
    pub fn new<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Self {
        let compiled = patterns.into_iter().map(|p| WildMatch::new(p.as_ref()));
        Self(compiled.collect())
    }

    /// Whether any pattern matches `text`.
    pub fn any_match(&self, text: &str) -> bool {
        self.0.iter().any(|g| g.matches(text))
    }
}

impl Config {
    /// Whether the include/exclude filters keep a server with this id and name.
    pub fn wants(&self, id: &str, name: &str) -> bool {
        let hit = |g: &Globs| g.any_match(id) || g.any_match(name);
        (self.include.0.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }
}

#[cfg(test)]
#[path = "../../tests/unit/config/filters.rs"]
mod tests;
