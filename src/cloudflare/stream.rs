//! A list page decoded as its bytes arrive, never held whole: a small scanner follows the
//! JSON's structure (depth, strings, the top-level keys) and hands each element of the
//! top-level `result` array to its page's decoder ([`Page`]: a server, or a portal) the
//! moment its last byte is in, so only one element's bytes are held at a time. Everything outside those elements (the
//! envelope: `success`, `errors`, `result_info`, an empty `result`) is kept and decoded at the
//! end. One malformed server is skipped, not its page; a body that is not what the scanner
//! expects is caught by the envelope's decode. Strings, the bulk of a page, are crossed with
//! `memchr`.

use serde_json::value::RawValue;

use super::model::{decode_server, DecodeError, Envelope, ListPage, ResultInfo};

/// What a page's decoder fills: each element of `result` as its last byte arrives, then
/// the page's `result_info` and element count. The server list and the portal list are
/// both such pages.
pub trait Page: Default {
    /// Decodes element `index` of `result` from its JSON.
    fn element(&mut self, index: usize, json: &[u8], wanted: Option<&Wanted>);
    /// The page is complete: `raw_count` elements, this `result_info`.
    fn close(&mut self, raw_count: usize, info: Option<ResultInfo>);
}

impl Page for ListPage {
    fn element(&mut self, index: usize, json: &[u8], wanted: Option<&Wanted>) {
        match decode_server(index, json, wanted) {
            Ok(s) => self.servers.push(s),
            Err(skipped) => self.skipped.push(skipped),
        }
    }

    fn close(&mut self, raw_count: usize, info: Option<ResultInfo>) {
        self.raw_count = raw_count;
        self.result_info = info;
    }
}

/// A body read as it arrives (the client feeds it chunk by chunk).
pub trait Feed: Send {
    /// Reads the next chunk of the body.
    fn feed(&mut self, chunk: &[u8]);
}

impl<P: Page + Send> Feed for PageDecoder<P> {
    fn feed(&mut self, chunk: &[u8]) {
        PageDecoder::feed(self, chunk);
    }
}

/// Where the scanner is.
#[derive(Debug, Default)]
struct Scan {
    depth: u32,
    in_string: bool,
    escape: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// The key being read (a prefix: only "result" matters).
    key: Vec<u8>,
    capturing: bool,
    /// The value being read at depth 1 belongs to the key `result`.
    value_is_result: bool,
    /// Inside the `result` array.
    in_result: bool,
    /// An element of it is being read.
    in_element: bool,
}

/// One step inside a string: an escaped byte, else a jump to the next quote or backslash
/// (the bulk of a page is string content) and that byte. The index after it, or `None` when
/// the chunk ends first.
#[inline]
fn in_string(s: &mut Scan, chunk: &[u8], mut i: usize) -> Option<usize> {
    if s.escape {
        s.escape = false;
        return Some(i + 1);
    }
    if !s.capturing {
        i += quote_or_backslash(chunk.get(i..)?)?;
    }
    match *chunk.get(i)? {
        b'\\' => s.escape = true,
        b'"' => {
            s.in_string = false;
            if s.capturing {
                s.capturing = false;
                s.value_is_result = s.key == RESULT;
            }
        }
        b if s.capturing && s.key.len() <= RESULT.len() => s.key.push(b),
        _ => {}
    }
    Some(i + 1)
}

/// The first `"` or `\\` of `bytes`: most strings of a page are keys and short values,
/// which a plain loop crosses before a vector search would have started.
#[inline]
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const NEAR: usize = 16;
    let near = &bytes[..bytes.len().min(NEAR)];
    match near.iter().position(|&b| b == b'"' || b == b'\\') {
        Some(i) => Some(i),
        None if bytes.len() <= NEAR => None,
        None => memchr::memchr2(b'"', b'\\', &bytes[NEAR..]).map(|i| i + NEAR),
    }
}

/// The index after the quote that closes a string whose first byte is at `from`, when it
/// is in `chunk`.
#[inline]
fn string_end(chunk: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + quote_or_backslash(chunk.get(from..)?)?;
        if chunk[at] == b'"' {
            return Some(at + 1);
        }
        from = at + 2;
    }
}

/// Bytes inside a server deeper than its own object: brackets move the depth, a quote
/// opens a string, the rest is skipped. The index after the byte that changed the state
/// (or the chunk's end, as `None`).
#[inline]
fn deep(s: &mut Scan, chunk: &[u8], mut i: usize) -> Option<usize> {
    while let Some(&b) = chunk.get(i) {
        i += 1;
        match b {
            // A string that ends in this chunk is crossed here; else the state machine takes
            // it from its first byte.
            b'"' => match string_end(chunk, i) {
                Some(after) => i = after,
                None => {
                    s.in_string = true;
                    return Some(i);
                }
            },
            b'{' | b'[' => s.depth += 1,
            b'}' | b']' => {
                s.depth -= 1;
                if s.depth <= 2 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The decoder of one page. [`PageDecoder::feed`] the body's chunks in order, then
/// [`PageDecoder::finish`].
#[derive(Default)]
pub struct PageDecoder<P = ListPage> {
    scan: Scan,
    envelope: Vec<u8>,
    element: Vec<u8>,
    count: usize,
    page: P,
    wanted: Option<Wanted>,
}

/// Which servers' definitions get a closer look ([`inspect`](crate::definitions::inspect)),
/// asked with a server's id and the [`digest`](crate::definitions::digest) of its
/// fingerprints while its bytes are still held.
pub type Wanted = std::sync::Arc<dyn Fn(&str, u64) -> bool + Send + Sync>;

impl<P: std::fmt::Debug> std::fmt::Debug for PageDecoder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageDecoder")
            .field("scan", &self.scan)
            .field("page", &self.page)
            .field("wanted", &self.wanted.is_some())
            .finish_non_exhaustive()
    }
}

const RESULT: &[u8] = b"result";

impl PageDecoder {
    /// A decoder of a server list page with nothing read.
    #[cfg(any(test, feature = "fake"))]
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that gives the servers `wanted` picks a closer look.
    pub fn inspecting(wanted: Option<Wanted>) -> Self {
        Self {
            wanted,
            ..Self::default()
        }
    }
}

impl<P: Page> PageDecoder<P> {
    /// Reads the next chunk of the body, handing each element of `result` that ends in it
    /// to its decoder.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut mark = 0;
        let mut i = 0;
        while i < chunk.len() {
            let s = &mut self.scan;
            if s.in_string {
                match in_string(s, chunk, i) {
                    Some(next) => i = next,
                    None => break,
                }
                continue;
            }
            if s.in_element && s.depth > 2 {
                // Deep inside a server: only strings and the depth matter until it closes.
                match deep(s, chunk, i) {
                    Some(next) => i = next,
                    None => break,
                }
                continue;
            }
            let b = chunk[i];
            let element_level = s.in_result && s.depth == 2;
            if element_level
                && !s.in_element
                && !matches!(b, b',' | b']')
                && !b.is_ascii_whitespace()
            {
                s.in_element = true;
                self.envelope.extend_from_slice(&chunk[mark..i]);
                mark = i;
            }
            let s = &mut self.scan;
            match b {
                b'"' => {
                    s.in_string = true;
                    if s.depth == 1 && s.expect_key {
                        s.capturing = true;
                        s.key.clear();
                    }
                }
                b'{' | b'[' => {
                    s.depth += 1;
                    if s.depth == 1 {
                        s.expect_key = b == b'{';
                    } else if s.depth == 2 && b == b'[' && s.value_is_result {
                        s.in_result = true;
                    }
                }
                b'}' | b']' => {
                    if element_level && b == b']' {
                        if self.scan.in_element {
                            self.end_element(&chunk[mark..i]);
                            mark = i;
                        }
                        self.scan.in_result = false;
                    }
                    let s = &mut self.scan;
                    s.depth = s.depth.saturating_sub(1);
                }
                b',' => {
                    if s.depth == 1 {
                        s.expect_key = true;
                        s.value_is_result = false;
                    } else if element_level && s.in_element {
                        self.end_element(&chunk[mark..i]);
                        mark = i + 1;
                    }
                }
                b':' if s.depth == 1 => s.expect_key = false,
                _ => {}
            }
            i += 1;
        }
        let rest = &chunk[mark.min(chunk.len())..];
        if self.scan.in_element {
            self.element.extend_from_slice(rest);
        } else {
            self.envelope.extend_from_slice(rest);
        }
    }

    /// The element read so far plus `tail` is complete: decode it.
    fn end_element(&mut self, tail: &[u8]) {
        self.scan.in_element = false;
        let index = self.count;
        self.count += 1;
        if self.element.is_empty() {
            self.page.element(index, tail, self.wanted.as_ref());
        } else {
            self.element.extend_from_slice(tail);
            self.page
                .element(index, &self.element, self.wanted.as_ref());
            self.element.clear();
        }
    }

    /// The envelope and the page. A body cut inside the `result` array, or an envelope
    /// that does not parse, is an error.
    pub fn finish(mut self) -> Result<(Envelope<()>, P), DecodeError> {
        if self.scan.in_result || self.scan.in_string || self.scan.depth != 0 {
            return Err(DecodeError(
                "list page: EOF while parsing (the body ends early)".into(),
            ));
        }
        let env: Envelope<Vec<Box<RawValue>>> = serde_json::from_slice(&self.envelope)
            .map_err(|e| DecodeError(format!("list page: {e}")))?;
        // A `result` the scanner did not take apart (a key written with escapes) is decoded
        // here the same way.
        for item in env.result.into_iter().flatten() {
            let index = self.count;
            self.count += 1;
            self.page
                .element(index, item.get().as_bytes(), self.wanted.as_ref());
        }
        self.page.close(self.count, env.result_info.clone());
        let envelope = Envelope {
            success: env.success,
            errors: env.errors,
            messages: env.messages,
            result: None,
            result_info: env.result_info,
        };
        Ok((envelope, self.page))
    }
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/stream.rs"]
mod tests;
