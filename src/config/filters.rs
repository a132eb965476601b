//! The include/exclude filters: glob patterns (`*`, `?`) on a server's id or name.

use super::Config;

/// Matches a glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Config {
    /// Whether the include/exclude filters keep a server with this id and name.
    pub fn wants(&self, id: &str, name: &str) -> bool {
        let hit = |pats: &[String]| {
            pats.iter()
                .any(|p| glob_match(p, id) || glob_match(p, name))
        };
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("prod-*", "prod-api"));
        assert!(glob_match("*-api", "prod-api"));
        assert!(glob_match("p?od*", "prod"));
        assert!(!glob_match("prod-*", "staging-api"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", ""));
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
        c.include = vec!["prod-*".into()];
        c.exclude = vec!["*legacy*".into()];
        assert!(c.wants("prod-1", "x"));
        assert!(c.wants("x1", "prod-crm"));
        assert!(!c.wants("prod-legacy", "x"));
        assert!(!c.wants("dev-1", "Dev"));
    }
}
