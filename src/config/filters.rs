//! The include/exclude filters: glob patterns (`*`, `?`) on a server's id or name, compiled
//! once when the configuration is loaded (`wildmatch`), not per server and cycle.

use wildmatch::WildMatch;

use super::Config;

/// Compiled glob patterns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Globs(Vec<WildMatch>);

impl Globs {
    /// Compiles `patterns`.
    pub fn new<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Self {
        Self(
            patterns
                .into_iter()
                .map(|p| WildMatch::new(p.as_ref()))
                .collect(),
        )
    }

    /// The patterns, as `wildmatch` keeps them (`**` written as `*`).
    pub fn patterns(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }
}

#[cfg(test)]
#[path = "../../tests/unit/config/filters.rs"]
mod tests;
