//! A list page decoded as its bytes arrive, never held whole: a small scanner follows the
//! JSON's structure (depth, strings, the top-level keys) and hands each element of the
//! top-level `result` array to the per-server decoder the moment its last byte is in, so
//! only one server's bytes are held at a time. Everything outside those elements (the
//! envelope: `success`, `errors`, `result_info`, an empty `result`) is kept and decoded at the
//! end. One malformed server is skipped as before; a body that is not what the scanner
//! expects is caught by the envelope's decode.
//!
//! A server object is read by [`ServerRead`], which finds its end while it hashes its
//! definitions, so its bytes are crossed once; only when that reading fails (a server that is
//! not JSON, or not UTF-8) are they crossed again here, byte by byte, to find where it ends.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::fingerprint::{Read, ServerRead, Split};
use super::model::{decode_read, decode_server, DecodeError, Envelope, ListPage};

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
        i += super::fingerprint::quote_or_backslash(chunk.get(i..)?)?;
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

/// The index after the quote that closes a string whose first byte is at `from`, when it
/// is in `chunk`.
#[inline]
fn string_end(chunk: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + super::fingerprint::quote_or_backslash(chunk.get(from..)?)?;
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
pub struct PageDecoder {
    scan: Scan,
    envelope: Vec<u8>,
    element: Vec<u8>,
    /// The reading of the server object being received.
    reading: Option<ServerRead>,
    /// What it gave, once the object ended.
    read: Option<Split>,
    page: ListPage,
    wanted: Option<Wanted>,
}

/// Which servers' definitions get a closer look ([`inspect`](super::inspect)), asked with
/// a server's id and the [`digest`](super::fingerprint::Defs::digest) of its fingerprints
/// while its bytes are still held.
pub type Wanted = std::sync::Arc<dyn Fn(&str, u64) -> bool + Send + Sync>;

impl std::fmt::Debug for PageDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageDecoder")
            .field("scan", &self.scan)
            .field("page", &self.page)
            .field("reading", &self.reading)
            .field("wanted", &self.wanted.is_some())
            .finish_non_exhaustive()
    }
}

const RESULT: &[u8] = b"result";

impl PageDecoder {
    /// A decoder with nothing read.
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

    /// Reads the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.read_on(chunk, false);
    }

    /// Reads `chunk` (`last` at the body's end): a server object goes to its reading, the
    /// rest to the scanner.
    fn read_on(&mut self, chunk: &[u8], last: bool) {
        let mut bytes = Cow::Borrowed(chunk);
        let mut from = 0;
        loop {
            if let Some(reading) = self.reading.as_mut() {
                // A server that starts in these bytes is read where it lies, and only its
                // own bytes are kept.
                let fresh = self.element.is_empty();
                let read = if fresh {
                    reading.read(&bytes[from..], last)
                } else {
                    self.element.extend_from_slice(&bytes[from..]);
                    reading.read(&self.element, last)
                };
                if fresh && !matches!(read, Read::Done(_)) {
                    self.element.extend_from_slice(&bytes[from..]);
                }
                match read {
                    Read::More => return,
                    Read::Done(end) if fresh => {
                        self.read = self.reading.take().map(ServerRead::into_split);
                        self.element.extend_from_slice(&bytes[from..from + end]);
                        from += end;
                    }
                    Read::Done(end) => {
                        self.read = self.reading.take().map(ServerRead::into_split);
                        // The bytes after the object are scanned on; they are most often
                        // the end of what just came.
                        let beyond = self.element.len() - end;
                        if beyond <= bytes.len() - from {
                            from = bytes.len() - beyond;
                            self.element.truncate(end);
                        } else {
                            bytes = Cow::Owned(self.element.split_off(end));
                            from = 0;
                        }
                    }
                    Read::Failed(..) => {
                        // Crossed again byte by byte, the way any other element is.
                        self.reading = None;
                        let held = std::mem::take(&mut self.element);
                        self.scan_bytes(&held, false);
                        return;
                    }
                }
            }
            match self.scan_bytes(&bytes[from..], true) {
                Some(object) => {
                    from += object;
                    self.reading = Some(ServerRead::default());
                }
                None => return,
            }
        }
    }

    /// Scans `chunk`; with `objects`, stops at an element that opens an object and answers
    /// where it starts (the element has begun: its bytes are for its reading).
    fn scan_bytes(&mut self, chunk: &[u8], objects: bool) -> Option<usize> {
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
                if objects && b == b'{' {
                    return Some(i);
                }
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
        None
    }

    /// The element read so far plus `tail` is complete: decode it.
    fn end_element(&mut self, tail: &[u8]) {
        self.scan.in_element = false;
        let index = self.page.raw_count;
        self.page.raw_count += 1;
        let outcome = if let Some(read) = self.read.take() {
            self.element.extend_from_slice(tail);
            let o = decode_read(index, &self.element, read, self.wanted.as_ref());
            self.element.clear();
            o
        } else if self.element.is_empty() {
            decode_server(index, tail, self.wanted.as_ref())
        } else {
            self.element.extend_from_slice(tail);
            let o = decode_server(index, &self.element, self.wanted.as_ref());
            self.element.clear();
            o
        };
        match outcome {
            Ok(s) => self.page.servers.push(s),
            Err(skipped) => self.page.skipped.push(skipped),
        }
    }

    /// The envelope and the page. A body cut inside the `result` array, or an envelope
    /// that does not parse, is an error.
    pub fn finish(mut self) -> Result<(Envelope<()>, ListPage), DecodeError> {
        if self.reading.is_some() {
            self.read_on(&[], true);
        }
        if self.reading.is_some()
            || self.scan.in_result
            || self.scan.in_string
            || self.scan.depth != 0
        {
            return Err(DecodeError(
                "list page: EOF while parsing (the body ends early)".into(),
            ));
        }
        let env: Envelope<Vec<Box<RawValue>>> = serde_json::from_slice(&self.envelope)
            .map_err(|e| DecodeError(format!("list page: {e}")))?;
        // A `result` the scanner did not take apart (a key written with escapes) is decoded
        // here the same way.
        for item in env.result.into_iter().flatten() {
            let index = self.page.raw_count;
            self.page.raw_count += 1;
            match decode_server(index, item.get().as_bytes(), self.wanted.as_ref()) {
                Ok(s) => self.page.servers.push(s),
                Err(skipped) => self.page.skipped.push(skipped),
            }
        }
        self.page.result_info = env.result_info.clone();
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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn page(n: usize, description: usize) -> Vec<u8> {
        let servers: Vec<_> = (0..n)
            .map(|i| json!({"id": format!("s{i}"), "tools": [{"name": "t", "description": "x".repeat(description)}]}))
            .collect();
        let body = json!({"success": true, "errors": [], "messages": [], "result": servers,
            "result_info": {"page": 1, "per_page": 100, "count": n, "total_count": n, "total_pages": 1}});
        serde_json::to_vec(&body).unwrap_or_default()
    }

    #[test]
    fn a_page_is_never_held_whole_only_one_server_at_a_time() {
        let body = page(100, 4000);
        assert!(body.len() > 400_000);
        let mut d = PageDecoder::new();
        let mut held = 0;
        for chunk in body.chunks(8192) {
            d.feed(chunk);
            held = held.max(d.envelope.len() + d.element.len());
        }
        assert!(
            held < 4500,
            "held {held} bytes of a {} byte page",
            body.len()
        );
        let (env, page) = d.finish().expect("decodes");
        assert!(env.success);
        assert_eq!((page.servers.len(), page.raw_count), (100, 100));
        assert_eq!(page.result_info.and_then(|r| r.total_count), Some(100));
    }

    #[test]
    fn an_empty_page_a_cut_body_and_a_malformed_server() {
        let (_, p) = decode(br#"{"success":true,"result":[],"result_info":{"count":0}}"#)
            .expect("empty page");
        assert_eq!(
            (p.raw_count, p.result_info.and_then(|r| r.count)),
            (0, Some(0))
        );
        let cut = page(3, 10);
        assert!(
            decode(&cut[..cut.len() / 2]).is_err(),
            "a body cut in the middle"
        );
        let (_, p) = decode(br#"{"success":true,"result":[{"id":"a"}, 7, {"id":"b","name":"n","name":"m"}, {"id":"c"}]}"#)
            .expect("decodes");
        let ids: Vec<&str> = p.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(
            p.skipped.iter().map(|s| s.index).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(p.skipped[1].id.as_deref(), Some("b"));
    }

    fn any_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 1000.0)),
            "[a-z <\\[\"\\\\\u{e9}\u{200b}\u{1f600}]{0,24}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("name|type|[a-z]{1,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// One element of `result`: mostly servers with definitions, spelled with or without
    /// whitespace, and now and then one that is not JSON, not UTF-8 or not an object.
    fn element() -> impl Strategy<Value = Vec<u8>> {
        let definitions = prop::collection::vec(any_value(), 0..4);
        (0..40u8, definitions, any_value(), any::<bool>()).prop_map(
            |(kind, defs, other, spaced)| {
                let tools: Vec<_> = defs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| json!({"name": format!("t{i}"), "input_schema": d}))
                    .collect();
                let server = json!({"id": format!("s{kind}"), "tools": tools,
                    "prompts": defs, "status": "ready", "other": other});
                let text = if spaced {
                    serde_json::to_string_pretty(&server)
                } else {
                    serde_json::to_string(&server)
                }
                .unwrap_or_default();
                match kind {
                    0 => br#"{"id":"colon","tools":[{"name" "t"}],"x":{"a":[1,]}}"#.to_vec(),
                    1 => b"{\"id\":\"bad\",\"name\":\"\xff\",\"tools\":[]}".to_vec(),
                    2 => b"{\"id\":\"def\",\"tools\":[{\"name\":\"\xc3\"}]}".to_vec(),
                    3 => b"7".to_vec(),
                    4 => text.replace("\"tools\"", r#""too\u006cs""#).into_bytes(),
                    5 => format!("{text} ").into_bytes(),
                    _ => text.into_bytes(),
                }
            },
        )
    }

    proptest! {
        /// However the body is cut into chunks, each server decodes as it does alone and
        /// whole: its definitions read while its bytes arrive, or byte by byte when that
        /// reading fails.
        #[test]
        fn a_page_in_any_chunks_decodes_as_its_servers_one_by_one(
            elements in prop::collection::vec(element(), 0..6),
            sizes in prop::collection::vec(1usize..300, 1..8),
        ) {
            let mut body = br#"{"success":true,"errors":[],"result":["#.to_vec();
            body.extend(elements.join(&b","[..]));
            body.extend_from_slice(br#"],"result_info":{"count":1}}"#);
            let mut d = PageDecoder::new();
            let (mut at, mut i) = (0, 0);
            while at < body.len() {
                let end = (at + sizes[i % sizes.len()]).min(body.len());
                d.feed(&body[at..end]);
                (at, i) = (end, i + 1);
            }
            let (_, page) = d.finish().expect("the envelope decodes");
            let (mut servers, mut skipped) = (Vec::new(), Vec::new());
            for (index, e) in elements.iter().enumerate() {
                match decode_server(index, e, None) {
                    Ok(s) => servers.push(s),
                    Err(s) => skipped.push(s),
                }
            }
            prop_assert_eq!(page.raw_count, elements.len());
            prop_assert_eq!(page.servers, servers);
            prop_assert_eq!(page.skipped, skipped);
        }
    }

    fn decode(body: &[u8]) -> Result<(Envelope<()>, ListPage), DecodeError> {
        let mut d = PageDecoder::new();
        for b in body.chunks(3) {
            d.feed(b);
        }
        d.finish()
    }
}
