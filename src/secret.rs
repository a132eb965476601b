//! A string that must never be printed: API tokens and keys.
//!
//! `Debug` and `Display` print a mask, so a secret cannot leak through a log line, an
//! error, `check-config` or a debug dump by accident; only [`Secret::expose`] reveals it,
//! and only the HTTP client calls that.

use std::fmt;

/// A secret value. Compare and clone freely; print only the mask.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask_the_value() {
        let s = Secret::new("tok-123456");
        assert_eq!(format!("{s}"), "****");
        assert!(!format!("{s:?}").contains("tok-123456"));
        assert!(!format!("{:?}", Some(vec![s.clone()])).contains("123456"));
        assert_eq!(s.expose(), "tok-123456");
    }
}
