//! The canonical hash of a definition list, computed in one pass over its raw JSON.
//!
//! The hashes are the ones the serde visitor of the first version computes (a test keeps
//! the two equal on random JSON): strings by their decoded text, numbers by value, object
//! entries summed so that their order does not matter, arrays in order. What changes is the
//! way there. Hand-written because the visitor went through serde's `deserialize_any` for
//! every value, decoding each string into a scratch buffer and checking its UTF-8 again.
//! Here each string is crossed once, eight bytes at a time ([`span`]): the same look finds its
//! end and tells whether it holds anything but ASCII or the `<` and `[` the hidden-instruction
//! rules look for; a string of plain ASCII is then hashed where it lies, and only the others
//! are checked as UTF-8. The scan reads bytes that may stop anywhere: where they end before
//! its value does it answers [`Halt::Short`], and [`server`](super::server) resumes a server
//! there when more bytes have come. The figures are in `docs/performance.md`
//! (`cargo bench --bench cycle -- decode`).
//!
//! Whatever it is given, the scan answers rather than panic, and it refuses nesting deeper
//! than serde_json does (128).

use std::hash::{Hash, Hasher};

use super::{boolean, entry, null, number, object, string, Defs, Mix};
use crate::cloudflare::inspect::rules_of;

/// Why a list could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("definitions: {0} at byte {1}")]
pub(in crate::cloudflare) struct Malformed(pub(super) &'static str, pub(super) usize);

/// Why a scan stopped before the end of its value (one byte, so that a hash and this come
/// back in registers; what is wrong is kept by the scan, [`Scan::malformed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::cloudflare) enum Halt {
    /// The bytes end first: more may come.
    Short,
    /// A string is not UTF-8.
    NotUtf8,
    /// Not JSON, or nested too deeply.
    Bad,
}

/// How deep values may nest, as serde_json's default.
const MAX_DEPTH: u32 = 128;

/// The definitions of `raw`, a JSON value: a list gives each element's name and hash, and
/// anything else (`null`, an object, a string) is unknown.
pub(super) fn list(raw: &str) -> Result<Option<Defs>, Malformed> {
    let mut s = Scan::new(raw.as_bytes(), 0, true);
    s.list().map_err(|h| s.malformed(h))
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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` equal to `c`; exact up to the first such byte (a
/// borrow may mark bytes after it, never before).
#[inline]
fn equal(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The string content starting at `from`: the index of its first `"` or `\\`, and whether a
/// byte before it is not ASCII or is a `<` or `[` (the only strings the rules must read).
/// Eight bytes per step; `None` when `bytes` end first.
#[inline]
fn span(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut i = from;
    let mut marked = 0u64;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        let w = u64::from_le_bytes(b);
        let stops = equal(w, b'"') | equal(w, b'\\');
        let marks = equal(w, b'<') | equal(w, b'[') | (w & HIGHS);
        if stops != 0 {
            // The bits below the first stop's: the bytes before it.
            let before = (stops & stops.wrapping_neg()) - 1;
            marked |= marks & before;
            return Some((i + (stops.trailing_zeros() / 8) as usize, marked != 0));
        }
        marked |= marks;
        i += 8;
    }
    for (j, &b) in bytes.get(i..)?.iter().enumerate() {
        match b {
            b'"' | b'\\' => return Some((i + j, marked != 0)),
            b'<' | b'[' | 0x80.. => marked = 1,
            _ => {}
        }
    }
    None
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

pub(super) struct Scan<'a> {
    bytes: &'a [u8],
    pub at: usize,
    depth: u32,
    /// The bytes are the whole input: a number may end with them.
    whole: bool,
    /// A string with escapes, decoded.
    scratch: String,
    /// The rules broken by the strings of the definition being read.
    rules: u8,
    /// Its `name`, when it has one.
    name: Option<String>,
    /// What is wrong, at [`Halt::Bad`].
    why: &'static str,
}

impl<'a> Scan<'a> {
    pub(super) fn new(bytes: &'a [u8], at: usize, whole: bool) -> Self {
        Scan {
            bytes,
            at,
            depth: 0,
            whole,
            scratch: String::new(),
            rules: 0,
            name: None,
            why: "",
        }
    }

    /// Why the scan stopped, where.
    pub(super) fn malformed(&self, halt: Halt) -> Malformed {
        let what = match halt {
            Halt::Short => "unexpected end",
            Halt::NotUtf8 => "a string that is not UTF-8",
            Halt::Bad => self.why,
        };
        Malformed(what, self.at)
    }

    pub(super) fn bad<T>(&mut self, why: &'static str) -> Result<T, Halt> {
        self.why = why;
        Err(Halt::Bad)
    }

    /// The value here as a definition list: a list gives each element's name and hash,
    /// anything else is crossed and unknown.
    pub(super) fn list(&mut self) -> Result<Option<Defs>, Halt> {
        self.space();
        if self.peek() != Some(b'[') {
            if self.at < self.bytes.len() {
                self.any()?;
            }
            return Ok(None);
        }
        self.at += 1;
        let mut defs = Defs::default();
        if !self.close(b']')? {
            loop {
                self.definition(&mut defs)?;
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        Ok(Some(defs))
    }

    /// One element of a definition list, added to `defs`.
    pub(super) fn definition(&mut self, defs: &mut Defs) -> Result<(), Halt> {
        self.rules = 0;
        self.name = None;
        self.space();
        let hash = if self.need()? == b'{' {
            self.nested(|s| s.object(true))?
        } else {
            self.any()?
        };
        defs.items.push((self.name.take(), hash));
        defs.rules.push(self.rules);
        Ok(())
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The next byte, which must be there.
    pub(super) fn need(&self) -> Result<u8, Halt> {
        self.peek().ok_or(Halt::Short)
    }

    pub(super) fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// After an opening bracket: whether `end` closes it at once (then it is consumed).
    pub(super) fn close(&mut self, end: u8) -> Result<bool, Halt> {
        self.space();
        let closed = self.need()? == end;
        if closed {
            self.at += 1;
        }
        Ok(closed)
    }

    /// After an element: `true` at `end`, `false` at a comma (both consumed).
    pub(super) fn next_or_close(&mut self, end: u8) -> Result<bool, Halt> {
        self.space();
        match self.need()? {
            b',' => {
                self.at += 1;
                Ok(false)
            }
            b if b == end => {
                self.at += 1;
                Ok(true)
            }
            _ => self.bad("expected a comma or a closing bracket"),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), Halt> {
        let rest = &self.bytes[self.at..];
        if rest.starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else if word.as_bytes().starts_with(rest) {
            Err(Halt::Short)
        } else {
            self.bad("expected true, false or null")
        }
    }

    /// Any value's hash; the rules its strings break are added to the definition's.
    pub(super) fn any(&mut self) -> Result<u64, Halt> {
        self.space();
        match self.need()? {
            b'{' => self.nested(|s| s.object(false)),
            b'[' => self.nested(Scan::array),
            b'"' => self.string(string),
            b't' => self.literal("true").map(|()| boolean(true)),
            b'f' => self.literal("false").map(|()| boolean(false)),
            b'n' => self.literal("null").map(|()| null()),
            b'-' | b'0'..=b'9' => self.number().map(number),
            _ => self.bad("expected a value"),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<u64, Halt>) -> Result<u64, Halt> {
        if self.depth >= MAX_DEPTH {
            return self.bad("nested too deeply");
        }
        self.depth += 1;
        self.at += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    /// After `{`. Entries are hashed one by one and summed, so their order does not matter.
    /// The object of a `definition` gives its `name`, when that is a string.
    fn object(&mut self, definition: bool) -> Result<u64, Halt> {
        let (mut sum, mut n) = (0u64, 0u64);
        if !self.close(b'}')? {
            loop {
                let (key, is_name) = self.key(|k| (string(k), k == b"name"))?;
                self.space();
                let value = if definition && is_name && self.need()? == b'"' {
                    self.string(|v| (string(v), String::from_utf8_lossy(v).into_owned()))
                        .map(|(hash, name)| {
                            self.name = Some(name);
                            hash
                        })?
                } else {
                    if definition && is_name {
                        self.name = None;
                    }
                    self.any()?
                };
                sum = sum.wrapping_add(entry(key, value));
                n += 1;
                if self.next_or_close(b'}')? {
                    break;
                }
            }
        }
        Ok(object(sum, n))
    }

    /// An object entry's key and its colon: hands the key's text to `f`.
    pub(super) fn key<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> Result<T, Halt> {
        self.space();
        if self.need()? != b'"' {
            return self.bad("expected a key");
        }
        let key = self.string(f)?;
        self.space();
        if self.need()? != b':' {
            return self.bad("expected a colon");
        }
        self.at += 1;
        Ok(key)
    }

    /// After `[`.
    fn array(&mut self) -> Result<u64, Halt> {
        let mut h = Mix::default();
        4u8.hash(&mut h);
        let mut n = 0u64;
        if !self.close(b']')? {
            loop {
                self.any()?.hash(&mut h);
                n += 1;
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        n.hash(&mut h);
        Ok(h.finish())
    }

    /// At `"`: hands the string's text to `f`, where it lies when it has no escape, else
    /// decoded; the rules it breaks are added to the definition's. Only a string with a byte
    /// beyond ASCII is checked as UTF-8.
    fn string<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> Result<T, Halt> {
        let start = self.at + 1;
        let (stop, marked) = span(self.bytes, start).ok_or(Halt::Short)?;
        let bytes = self.bytes;
        if bytes[stop] == b'"' {
            let raw = &bytes[start..stop];
            let rules = if marked {
                rules_of(std::str::from_utf8(raw).map_err(|_| Halt::NotUtf8)?)
            } else {
                0
            };
            self.at = stop + 1;
            self.rules |= rules;
            return Ok(f(raw));
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let decoded = self.escaped(start, &mut out).map(|()| {
            self.rules |= rules_in(&out);
            f(out.as_bytes())
        });
        self.scratch = out;
        decoded
    }

    /// Decodes a string with escapes into `out`, from its first byte at `from`.
    fn escaped(&mut self, mut from: usize, out: &mut String) -> Result<(), Halt> {
        let bytes = self.bytes;
        loop {
            let stop = from + quote_or_backslash(&bytes[from..]).ok_or(Halt::Short)?;
            let run = std::str::from_utf8(&bytes[from..stop]).map_err(|_| Halt::NotUtf8)?;
            out.push_str(run);
            self.at = stop + 1;
            if bytes[stop] == b'"' {
                return Ok(());
            }
            let e = self.need()?;
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
                _ => return self.bad("an unknown escape"),
            }
            from = self.at;
        }
    }

    /// After `\u`: one character, from a surrogate pair when it takes two escapes.
    fn unicode(&mut self) -> Result<char, Halt> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                match self.bytes.get(self.at..self.at + 2) {
                    Some(b"\\u") => {}
                    None if self.at + 2 > self.bytes.len() => return Err(Halt::Short),
                    _ => return self.bad("a lone leading surrogate"),
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return self.bad("a lone leading surrogate");
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.bad("a lone trailing surrogate"),
            c => c,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.bad("an escape that is not a character"),
        }
    }

    fn hex4(&mut self) -> Result<u32, Halt> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or(Halt::Short)?;
        let mut v = 0;
        for &d in digits {
            match (d as char).to_digit(16) {
                Some(x) => v = v * 16 + x,
                None => return self.bad("an escape without four hex digits"),
            }
        }
        self.at += 4;
        Ok(v)
    }

    /// A number's value: integers exactly as far as an `f64` holds them, as the visitor had
    /// them from serde_json (`u64`/`i64` as `f64`), others as Rust reads them. A number at
    /// the end of the bytes may go on in the next ones.
    fn number(&mut self) -> Result<f64, Halt> {
        let start = self.at;
        let mut integral = true;
        let mut small = Some(0u64);
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' => {
                    small = small
                        .and_then(|v| v.checked_mul(10))
                        .and_then(|v| v.checked_add(u64::from(b - b'0')))
                }
                b'-' => small = None,
                b'.' | b'e' | b'E' | b'+' => integral = false,
                _ => break,
            }
            self.at += 1;
        }
        if self.at == self.bytes.len() && !self.whole {
            return Err(Halt::Short);
        }
        if integral {
            if let Some(v) = small {
                return Ok(v as f64);
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default();
        if integral {
            if let Ok(v) = text.parse::<i64>() {
                return Ok(v as f64);
            }
        }
        match text.parse::<f64>() {
            Ok(v) => Ok(v),
            Err(_) => {
                self.at = start;
                self.bad("a malformed number")
            }
        }
    }
}

#[cfg(test)]
mod tests;
