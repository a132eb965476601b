use super::span;

/// The end of a string and whether a byte before it is marked, wherever the two fall in
/// a word of eight bytes, and whatever follows the end.
#[test]
fn a_string_ends_at_its_first_quote_or_backslash_and_only_what_is_before_counts() {
    for len in 0..40 {
        for end in ["\"", "\\"] {
            for mark in [None, Some("<"), Some("["), Some("\u{e9}")] {
                for at in 0..len.max(1) {
                    let mut s = "a".repeat(len);
                    if let Some(m) = mark.filter(|_| len > 0) {
                        s.replace_range(at..at + 1, m);
                    }
                    let marked = mark.is_some() && len > 0;
                    let text = format!("{s}{end}<[\u{e9}\"aaaaaaaaaaaaaaaa");
                    assert_eq!(
                        span(text.as_bytes(), 0),
                        Some((s.len(), marked)),
                        "{text:?}"
                    );
                }
            }
        }
        let unended = "<".repeat(len);
        assert_eq!(span(unended.as_bytes(), 0), None);
    }
}
