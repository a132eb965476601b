//! A server object read for its definitions as its bytes arrive: the `tools` and `prompts`
//! lists hashed where they lie (by [`Scan`]), every other entry crossed, and the object's end
//! found, all in one pass. The list page's decoder ([`stream`](crate::cloudflare::stream))
//! hands it the bytes of the server it is in; where they stop in the middle of something, the
//! next look starts again from the last whole step (a top-level entry, or one definition),
//! so nothing but the server's bytes is kept between looks. A definition longer than the
//! bytes that came since is looked at again only once those have doubled, so a huge one
//! costs a few scans of itself rather than one per chunk.

use super::scan::{Halt, Malformed, Scan};
use super::Defs;

/// A server object with its `tools` and `prompts` hashed where they lie.
#[derive(Debug, Default)]
pub(in crate::cloudflare) struct Split {
    /// Where each `tools` and `prompts` value lies in the object's bytes.
    cuts: Vec<(usize, usize)>,
    /// The definitions of `tools`, as [`defs`](super::defs) gives them.
    pub tools: Option<Defs>,
    /// The definitions of `prompts`.
    pub prompts: Option<Defs>,
}

impl Split {
    /// The object's bytes with each `tools` and `prompts` value replaced by `null`, for
    /// serde_json to decode the rest of the server from (a few hundred bytes, not the whole).
    pub fn rest(&self, json: &[u8]) -> Vec<u8> {
        let mut rest = Vec::with_capacity(1024);
        let mut copied = 0;
        for &(start, end) in &self.cuts {
            rest.extend_from_slice(json.get(copied..start).unwrap_or_default());
            rest.extend_from_slice(b"null");
            copied = end;
        }
        rest.extend_from_slice(json.get(copied..).unwrap_or_default());
        rest
    }
}

/// Hashes the `tools` and `prompts` of the server object `json` in one pass over it, so that
/// serde_json never crosses them; `None` when `json` is not a JSON object or not UTF-8
/// (serde_json then says what is wrong with it).
pub(in crate::cloudflare) fn split_server(json: &[u8]) -> Result<Option<Split>, Malformed> {
    let mut s = Scan::new(json, 0, true);
    s.space();
    if s.peek() != Some(b'{') {
        return Ok(None);
    }
    let mut server = Server::default();
    match server.read(json, true) {
        Read::Done(_) => Ok(Some(server.split)),
        Read::Failed(Halt::NotUtf8, _) => Ok(None),
        Read::Failed(_, why) => Err(why),
        Read::More => Err(Malformed("unexpected end", json.len())),
    }
}

/// What a look at a server's bytes came to.
#[derive(Debug)]
pub(in crate::cloudflare) enum Read {
    /// Its object ends before this byte.
    Done(usize),
    /// The bytes stop before it ends.
    More,
    /// It cannot be read this way (the page's decoder reads it again byte by byte, and
    /// serde_json says what is wrong).
    Failed(Halt, Malformed),
}

/// Where the reading of a server stands.
#[derive(Debug, Default)]
pub(in crate::cloudflare) struct Server {
    /// Where the next look starts: the end of the last whole step.
    at: usize,
    step: Step,
    split: Split,
    /// The list being read: `tools` or not, where it starts, what it gave so far.
    list: Option<(bool, usize, Defs)>,
    /// No look before the bytes are this long.
    wait_for: usize,
}

#[derive(Debug, Default, Clone, Copy)]
enum Step {
    /// Before the opening brace.
    #[default]
    Open,
    /// After it: the first key, or the closing brace.
    First,
    /// After a comma: a key.
    Key,
    /// A value; of `tools` (`Some(true)`), `prompts` (`Some(false)`) or another key.
    Value(Option<bool>),
    /// After a list's opening bracket: a definition, or the closing bracket.
    ListFirst,
    /// After a definition: a comma and the next, or the closing bracket.
    ListNext,
    /// After an entry: a comma, or the closing brace.
    Next,
}

impl Server {
    /// Reads on in `bytes`, the server's bytes so far (`whole` when no more will come).
    pub fn read(&mut self, bytes: &[u8], whole: bool) -> Read {
        if !whole && bytes.len() < self.wait_for {
            return Read::More;
        }
        let mut s = Scan::new(bytes, self.at, whole);
        loop {
            match self.step(&mut s) {
                Ok(Some(end)) => return Read::Done(end),
                Ok(None) => self.at = s.at,
                Err(Halt::Short) if !whole => {
                    self.wait_for = bytes.len() + (bytes.len() - self.at);
                    return Read::More;
                }
                Err(halt) => return Read::Failed(halt, s.malformed(halt)),
            }
        }
    }

    /// What was read, once [`read`](Self::read) is done.
    pub fn into_split(self) -> Split {
        self.split
    }

    /// One step from `s.at`: the object's end when it is reached. Nothing of `self` changes
    /// unless the step is whole.
    fn step(&mut self, s: &mut Scan<'_>) -> Result<Option<usize>, Halt> {
        s.space();
        match self.step {
            Step::Open => {
                if s.need()? != b'{' {
                    return s.bad("expected an object");
                }
                s.at += 1;
                self.step = Step::First;
            }
            Step::First => {
                if s.need()? == b'}' {
                    return Ok(Some(s.at + 1));
                }
                self.step = Step::Key;
            }
            Step::Key => {
                let which = s.key(|k| match k {
                    b"tools" => Some(true),
                    b"prompts" => Some(false),
                    _ => None,
                })?;
                self.step = Step::Value(which);
            }
            Step::Value(None) => {
                s.any()?;
                self.step = Step::Next;
            }
            Step::Value(Some(tools)) => {
                let start = s.at;
                if s.need()? == b'[' {
                    s.at += 1;
                    self.list = Some((tools, start, Defs::default()));
                    self.step = Step::ListFirst;
                } else {
                    s.any()?;
                    self.keep(tools, start, s.at, None);
                }
            }
            Step::ListFirst | Step::ListNext => {
                let first = matches!(self.step, Step::ListFirst);
                let Some((tools, start, defs)) = self.list.as_mut() else {
                    return s.bad("a list without its start");
                };
                match s.need()? {
                    b']' => {
                        s.at += 1;
                        let (tools, start) = (*tools, *start);
                        let defs = self.list.take().map(|(_, _, d)| d);
                        self.keep(tools, start, s.at, defs);
                    }
                    b',' if !first => {
                        s.at += 1;
                        s.definition(defs)?;
                    }
                    _ if first => {
                        s.definition(defs)?;
                        self.step = Step::ListNext;
                    }
                    _ => return s.bad("expected a comma or a closing bracket"),
                }
            }
            Step::Next => match s.need()? {
                b',' => {
                    s.at += 1;
                    self.step = Step::Key;
                }
                b'}' => return Ok(Some(s.at + 1)),
                _ => return s.bad("expected a comma or a closing brace"),
            },
        }
        Ok(None)
    }

    /// A `tools` or `prompts` value read whole, from `start` to `end`.
    fn keep(&mut self, tools: bool, start: usize, end: usize, defs: Option<Defs>) {
        self.split.cuts.push((start, end));
        if tools {
            self.split.tools = defs;
        } else {
            self.split.prompts = defs;
        }
        self.step = Step::Next;
    }
}
