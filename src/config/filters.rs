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
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        let m = |p: &str, t: &str| Globs::new([p]).any_match(t);
        assert!(m("prod-*", "prod-api"));
        assert!(m("*-api", "prod-api"));
        assert!(m("p?od*", "prod"));
        assert!(!m("prod-*", "staging-api"));
        assert!(m("*", ""));
        assert!(!m("a", ""));
        assert!(m("é?", "éa"), "characters, not bytes");
    }

    #[test]
    fn filters_apply_to_id_and_name() {
        let env = [
            ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
            ("CLOUDFLARE_API_TOKEN", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut c = super::super::load(&Default::default(), &env).expect("valid");
        c.include = Globs::new(["prod-*"]);
        c.exclude = Globs::new(["*legacy*"]);
        assert!(c.wants("prod-1", "x"));
        assert!(c.wants("x1", "prod-crm"));
        assert!(!c.wants("prod-legacy", "x"));
        assert!(!c.wants("dev-1", "Dev"));
    }
}
