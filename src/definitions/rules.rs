//! The deterministic rules that flag text in a definition hidden from a person or addressed
//! to the model: invisible and bidirectional characters, Unicode tag characters, and
//! instruction markup (`<IMPORTANT>`, `[SYSTEM]`, chat-template tokens). Pure functions of a
//! string; the fast pass ([`fingerprint`](super::fingerprint)) and the close look
//! ([`stable`](super::stable)) both apply them to every string of a definition.

pub use crate::vocabulary::Rule;
/// Element names that count as instruction markup when opened or closed (`<important>`,
/// `</system>`, `<IMPORTANT priority="high">`), compared without regard to ASCII case.
pub const MARKUP_TAGS: [&str; 6] = [
    "important",
    "system",
    "system_prompt",
    "system-prompt",
    "instructions",
    "instruction",
];

/// Chat-template tokens that count as instruction markup, compared without regard to ASCII
/// case.
pub const MARKUP_TOKENS: [&str; 9] = [
    "[system]",
    "[/system]",
    "[inst]",
    "[/inst]",
    "<<sys>>",
    "<</sys>>",
    "<|im_start|>",
    "<|im_end|>",
    "<|system|>",
];

/// Which rule, if any, a character breaks.
pub fn hidden(c: char) -> Option<Rule> {
    match c {
        '\u{00AD}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}' => Some(Rule::InvisibleCharacters),
        '\u{200E}'
        | '\u{200F}'
        | '\u{061C}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some(Rule::BidiControls),
        '\u{E0000}'..='\u{E007F}' => Some(Rule::TagCharacters),
        _ => None,
    }
}

/// Whether `text` carries instruction markup.
pub fn has_markup(text: &str) -> bool {
    if !text.contains(['<', '[']) {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    if MARKUP_TOKENS.iter().any(|t| lower.contains(t)) {
        return true;
    }
    lower.match_indices('<').any(|(i, _)| {
        let rest = &lower[i + 1..];
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        MARKUP_TAGS.iter().any(|tag| {
            rest.strip_prefix(tag)
                .is_some_and(|after| after.starts_with(['>', '/', ' ', '\t', '\n', '\r']))
        })
    })
}

/// The rules one string breaks, a bit per [`Rule::index`]: the hidden characters only when
/// it is not ASCII, the markup only when it has a `<` or `[`.
pub fn rules_of(s: &str) -> u8 {
    // Most strings of a schema are short ASCII words: one plain look at their bytes clears
    // them (a vector search costs more to start than such a string takes to cross).
    let b = s.as_bytes();
    if b.len() <= 64
        && !b
            .iter()
            .fold(false, |m, &c| m | (c >= 0x80) | (c == b'<') | (c == b'['))
    {
        return 0;
    }
    let mut found = 0;
    if !s.is_ascii() {
        for c in s.chars() {
            if let Some(r) = hidden(c) {
                found |= 1 << r.index();
            }
        }
    }
    if memchr::memchr2(b'<', b'[', b).is_some() && has_markup(s) {
        found |= 1 << Rule::InstructionMarkup.index();
    }
    found
}

/// What the rules found in a server's definitions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suspicious {
    /// Definitions that break each rule, in the order of [`Rule::ALL`].
    pub counts: [u32; Rule::ALL.len()],
    /// Each flagged definition's name (`tool:x`) and the rule, in name order.
    pub flagged: Vec<(Rule, String)>,
}

impl Suspicious {
    /// From the flagged definitions: sorted, a repeated name counted once.
    pub fn from_flagged(mut flagged: Vec<(Rule, String)>) -> Self {
        flagged.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        flagged.dedup();
        let mut s = Suspicious {
            flagged,
            ..Suspicious::default()
        };
        for (r, _) in &s.flagged {
            s.counts[r.index()] += 1;
        }
        s
    }

    /// The count of one rule.
    #[cfg(test)]
    pub fn count(&self, rule: Rule) -> u32 {
        self.counts[rule.index()]
    }

    /// Whether nothing was flagged.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }
}
