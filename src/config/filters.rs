//! The include/exclude filters: glob patterns (`*`, `?`) on a server's id or name, compiled
//! once when the configuration is loaded (`wildmatch`), not per server and cycle.

use wildmatch::WildMatch;

use super::Config;

/// Glob patterns as written, and compiled.
#[derive(Debug, Clone, Default)]
pub struct Globs {
    written: Vec<String>,
    compiled: Vec<WildMatch>,
}

impl PartialEq for Globs {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl Globs {
    /// Compiles `patterns`.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        let written: Vec<String> = patterns.into_iter().map(Into::into).collect();
        let compiled = written.iter().map(|p| WildMatch::new(p)).collect();
        Self { written, compiled }
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.written
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// Whether any pattern matches `text`.
    pub fn any_match(&self, text: &str) -> bool {
        self.compiled.iter().any(|g| g.matches(text))
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
