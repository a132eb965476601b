//! The canonical hash of a definition list, computed in one pass over its raw JSON.
//!
//! The hashes are the ones the serde visitor of the first version computed (a test keeps
//! the two equal on random JSON): strings by their decoded text, numbers by value, object
//! entries summed so that their order does not matter, arrays in order. What changes is the
//! way there. Hand-written because the visitor went through serde's `deserialize_any` for
//! every value, decoding each string into a scratch buffer and checking its UTF-8 again, and
//! serde_json crossed the definitions a second time to find where they end. Here a server's
//! bytes are checked as UTF-8 once, [`split_server`] hashes its `tools` and `prompts` where
//! they lie (a string's bytes as they are unless it has an escape; short strings crossed by a
//! plain loop rather than a vector search) and hands serde_json the few hundred bytes left.
//! On the object-heavy page of `cargo bench --bench cycle -- decode` (20 tools × 20
//! properties, 4.76 MiB) the decoder took 21.6–25.4 ms with the visitor and 14.6–15.8 ms with
//! this (3 runs each, interleaved).
//!
//! The input is one JSON value serde_json has already accepted; whatever else it is given,
//! the scan answers an error rather than panic, and it refuses nesting deeper than serde_json
//! does (128).

use std::hash::{Hash, Hasher};

use super::{entry, finish, number, object, plain, Defs, Hashed, Mix};
use crate::cloudflare::inspect::rules_of;

/// Why a list could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("definitions: {0} at byte {1}")]
pub(in crate::cloudflare) struct Malformed(&'static str, usize);

/// How deep values may nest, as serde_json's default.
const MAX_DEPTH: u32 = 128;

/// The definitions of `raw`, a JSON value: a list gives each element's name and hash, and
/// anything else (`null`, an object, a string) is unknown.
pub(super) fn list(raw: &str) -> Result<Option<Defs>, Malformed> {
    Scan::new(raw).list()
}

/// A server object with its `tools` and `prompts` hashed where they lie and taken out.
#[derive(Debug)]
pub(in crate::cloudflare) struct Split {
    /// The object with each `tools` and `prompts` value replaced by `null`, for serde_json
    /// to decode the rest of the server from (a few hundred bytes instead of the whole).
    pub rest: Vec<u8>,
    /// The definitions of `tools`, as [`defs`](super::defs) gives them.
    pub tools: Option<Defs>,
    /// The definitions of `prompts`.
    pub prompts: Option<Defs>,
}

/// Hashes the `tools` and `prompts` of the server object `json` in one pass over it, so that
/// serde_json never crosses them; `None` when `json` is not a JSON object in UTF-8 (serde_json
/// then says what is wrong with it).
pub(in crate::cloudflare) fn split_server(json: &[u8]) -> Result<Option<Split>, Malformed> {
    let Ok(text) = std::str::from_utf8(json) else {
        return Ok(None);
    };
    let mut s = Scan::new(text);
    s.space();
    if s.peek() != Some(b'{') {
        return Ok(None);
    }
    s.at += 1;
    let mut split = Split {
        rest: Vec::with_capacity(1024),
        tools: None,
        prompts: None,
    };
    let mut copied = 0;
    if !s.close(b'}') {
        loop {
            let which = s.key(|k| match k {
                "tools" => Some(true),
                "prompts" => Some(false),
                _ => None,
            })?;
            s.space();
            let start = s.at;
            match which {
                None => {
                    s.value(Role::Value)?;
                }
                Some(is_tools) => {
                    let defs = s.list()?;
                    split.rest.extend_from_slice(&json[copied..start]);
                    split.rest.extend_from_slice(b"null");
                    copied = s.at;
                    if is_tools {
                        split.tools = defs;
                    } else {
                        split.prompts = defs;
                    }
                }
            }
            if s.next_or_close(b'}')? {
                break;
            }
        }
    }
    split.rest.extend_from_slice(&json[copied..]);
    Ok(Some(split))
}

/// The first `"` or `\\` of `bytes`: most strings of a page are keys and short values, which
/// a plain loop crosses before a vector search would have started.
#[inline]
pub(in crate::cloudflare) fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const NEAR: usize = 16;
    let near = &bytes[..bytes.len().min(NEAR)];
    match near.iter().position(|&b| b == b'"' || b == b'\\') {
        Some(i) => Some(i),
        None if bytes.len() <= NEAR => None,
        None => memchr::memchr2(b'"', b'\\', &bytes[NEAR..]).map(|i| i + NEAR),
    }
}

/// The rules `text` breaks: a short ASCII string without `<` or `[` breaks none, known in
/// one look at its bytes.
#[inline]
fn rules_in(text: &str) -> u8 {
    if text.len() <= 32 && !text.bytes().any(|b| b >= 0x80 || b == b'<' || b == b'[') {
        return 0;
    }
    rules_of(text)
}

/// What a value is to the definition around it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// An element of the list: the value of its `name` is kept.
    Definition,
    /// The value of a definition's `name`: kept when it is a string.
    Name,
    /// Anything else.
    Value,
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
    depth: u32,
    /// A string with escapes, decoded.
    scratch: String,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan {
            text,
            at: 0,
            depth: 0,
            scratch: String::new(),
        }
    }

    /// The value here as a definition list: a list gives each element's name and hash,
    /// anything else is crossed and unknown.
    fn list(&mut self) -> Result<Option<Defs>, Malformed> {
        self.space();
        if self.peek() != Some(b'[') {
            if self.at < self.text.len() {
                self.value(Role::Value)?;
            }
            return Ok(None);
        }
        self.at += 1;
        let (mut items, mut rules) = (Vec::new(), Vec::new());
        if !self.close(b']') {
            loop {
                let item = self.value(Role::Definition)?;
                items.push((item.name, item.hash));
                rules.push(item.rules);
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        Ok(Some(Defs { items, rules }))
    }

    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn fail<T>(&self, what: &'static str) -> Result<T, Malformed> {
        Err(Malformed(what, self.at))
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// After an opening bracket: whether `end` closes it at once (then it is consumed).
    fn close(&mut self, end: u8) -> bool {
        self.space();
        let closed = self.peek() == Some(end);
        if closed {
            self.at += 1;
        }
        closed
    }

    /// After an element: `true` at `end`, `false` at a comma (both consumed).
    fn next_or_close(&mut self, end: u8) -> Result<bool, Malformed> {
        self.space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(b) if b == end => {
                self.at += 1;
                Ok(true)
            }
            _ => self.fail("expected a comma or a closing bracket"),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), Malformed> {
        if self.text.get(self.at..self.at + word.len()) != Some(word) {
            return self.fail("expected true, false or null");
        }
        self.at += word.len();
        Ok(())
    }

    fn value(&mut self, role: Role) -> Result<Hashed, Malformed> {
        self.space();
        match self.peek() {
            Some(b'{') => self.nested(|s| s.object(role == Role::Definition)),
            Some(b'[') => self.nested(Scan::array),
            Some(b'"') => {
                let keep = role == Role::Name;
                self.string(|v| Hashed {
                    hash: finish(3, |h| v.hash(h)),
                    name: keep.then(|| v.to_owned()),
                    rules: rules_in(v),
                })
            }
            Some(b't') => self
                .literal("true")
                .map(|()| plain(finish(1, |h| true.hash(h)))),
            Some(b'f') => self
                .literal("false")
                .map(|()| plain(finish(1, |h| false.hash(h)))),
            Some(b'n') => self.literal("null").map(|()| plain(finish(0, |_| {}))),
            Some(b'-' | b'0'..=b'9') => self.number().map(|v| plain(number(v))),
            _ => self.fail("expected a value"),
        }
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Hashed, Malformed>,
    ) -> Result<Hashed, Malformed> {
        if self.depth >= MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.depth += 1;
        self.at += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    /// After `{`. Entries are hashed one by one and summed, so their order does not matter.
    fn object(&mut self, definition: bool) -> Result<Hashed, Malformed> {
        let (mut sum, mut n, mut name, mut rules) = (0u64, 0u64, None, 0u8);
        if !self.close(b'}') {
            loop {
                let (key, is_name, key_rules) =
                    self.key(|k| (finish(3, |h| k.hash(h)), k == "name", rules_in(k)))?;
                let role = if definition && is_name {
                    Role::Name
                } else {
                    Role::Value
                };
                let value = self.value(role)?;
                if role == Role::Name {
                    name = value.name;
                }
                rules |= key_rules | value.rules;
                sum = sum.wrapping_add(entry(key, value.hash));
                n += 1;
                if self.next_or_close(b'}')? {
                    break;
                }
            }
        }
        Ok(Hashed {
            hash: object(sum, n),
            name,
            rules,
        })
    }

    /// An object entry's key and its colon: hands the key's text to `f`.
    fn key<T>(&mut self, f: impl FnOnce(&str) -> T) -> Result<T, Malformed> {
        self.space();
        if self.peek() != Some(b'"') {
            return self.fail("expected a key");
        }
        let key = self.string(f)?;
        self.space();
        if self.peek() != Some(b':') {
            return self.fail("expected a colon");
        }
        self.at += 1;
        Ok(key)
    }

    /// After `[`.
    fn array(&mut self) -> Result<Hashed, Malformed> {
        let mut h = Mix::default();
        4u8.hash(&mut h);
        let (mut n, mut rules) = (0u64, 0u8);
        if !self.close(b']') {
            loop {
                let item = self.value(Role::Value)?;
                item.hash.hash(&mut h);
                rules |= item.rules;
                n += 1;
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        n.hash(&mut h);
        Ok(Hashed {
            rules,
            ..plain(h.finish())
        })
    }

    /// At `"`: hands the string's text to `f`, where it lies when it has no escape, else
    /// decoded.
    fn string<T>(&mut self, f: impl FnOnce(&str) -> T) -> Result<T, Malformed> {
        let start = self.at + 1;
        let Some(stop) = quote_or_backslash(&self.bytes()[start..]) else {
            return self.fail("an unterminated string");
        };
        let stop = start + stop;
        if self.bytes()[stop] == b'"' {
            self.at = stop + 1;
            let Some(text) = self.text.get(start..stop) else {
                return self.fail("a string that is not UTF-8");
            };
            return Ok(f(text));
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let decoded = self.escaped(start, &mut out).map(|()| f(&out));
        self.scratch = out;
        decoded
    }

    /// Decodes a string with escapes into `out`, from its first byte at `from`.
    fn escaped(&mut self, mut from: usize, out: &mut String) -> Result<(), Malformed> {
        loop {
            let Some(stop) = quote_or_backslash(&self.bytes()[from..]) else {
                self.at = self.text.len();
                return self.fail("an unterminated string");
            };
            let stop = from + stop;
            let Some(run) = self.text.get(from..stop) else {
                return self.fail("a string that is not UTF-8");
            };
            out.push_str(run);
            self.at = stop + 1;
            if self.bytes()[stop] == b'"' {
                return Ok(());
            }
            let Some(&e) = self.bytes().get(self.at) else {
                return self.fail("an unterminated escape");
            };
            self.at += 1;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let c = self.unicode()?;
                    out.push(c);
                }
                _ => return self.fail("an unknown escape"),
            }
            from = self.at;
        }
    }

    /// After `\u`: one character, from a surrogate pair when it takes two escapes.
    fn unicode(&mut self) -> Result<char, Malformed> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.text.get(self.at..self.at + 2) != Some("\\u") {
                    return self.fail("a lone leading surrogate");
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return self.fail("a lone leading surrogate");
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.fail("a lone trailing surrogate"),
            c => c,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail("an escape that is not a character"),
        }
    }

    fn hex4(&mut self) -> Result<u32, Malformed> {
        let digits = self.text.get(self.at..self.at + 4);
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) if digits.is_some_and(|d| d.bytes().all(|b| b.is_ascii_hexdigit())) => {
                self.at += 4;
                Ok(v)
            }
            _ => self.fail("an escape without four hex digits"),
        }
    }

    /// A number's value: integers exactly as far as an `f64` holds them, as the visitor had
    /// them from serde_json (`u64`/`i64` as `f64`), others as Rust reads them.
    fn number(&mut self) -> Result<f64, Malformed> {
        let start = self.at;
        let mut integral = true;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' | b'-' => {}
                b'.' | b'e' | b'E' | b'+' => integral = false,
                _ => break,
            }
            self.at += 1;
        }
        let text = &self.text[start..self.at];
        if integral {
            if let Ok(v) = text.parse::<u64>() {
                return Ok(v as f64);
            }
            if let Ok(v) = text.parse::<i64>() {
                return Ok(v as f64);
            }
        }
        match text.parse::<f64>() {
            Ok(v) => Ok(v),
            Err(_) => {
                self.at = start;
                self.fail("a malformed number")
            }
        }
    }
}
