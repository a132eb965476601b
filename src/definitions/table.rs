//! Definitions by name with a hash each, in one allocation: what the scheduler keeps of a
//! server's definitions between listings (their fast fingerprints) and what pins hold (their
//! stable ones), and what changed between two tables, by name. Kept for every server of every
//! account, so it is compact: the names front-coded.

use std::fmt::Write as _;

/// What is kept of a server's definitions between listings, in one allocation: the number
/// of definitions (4 bytes), the hash of each (8 bytes, in the order of their names), then
/// their names (`tool:x`, `prompt:y`) sorted and joined, for the log line of a change. A
/// definition without a name is named by its hash; of two with the same name the first
/// counts.
pub type Capabilities = Table<8>;

/// Definitions by name, each with a hash of `W` bytes, in one allocation (the layout of
/// [`Capabilities`]). Pins use it with the first 16 bytes of each stable fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table<const W: usize> {
    data: Box<[u8]>,
}

/// The definitions that differ between two fingerprints, by name (`tool:x`, `prompt:y`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// New definitions.
    pub added: Vec<String>,
    /// Definitions that are gone.
    pub removed: Vec<String>,
    /// Definitions whose content changed.
    pub changed: Vec<String>,
}

impl Change {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What separates the names of a table (replaced by a space inside a name).
pub const SEP: char = '\u{1f}';

/// Labelled hashes on their way into a [`Table`]: every name in one buffer, each definition
/// a range of it and its hash.
pub struct Labels<const W: usize> {
    text: String,
    items: Vec<(usize, usize, [u8; W])>,
}

impl<const W: usize> Default for Labels<W> {
    fn default() -> Self {
        Self {
            text: String::new(),
            items: Vec::new(),
        }
    }
}

impl<const W: usize> Labels<W> {
    /// Adds a definition of `kind` (`tool`, `prompt`) named `name`; one without a name is
    /// named by its hash.
    pub fn push(&mut self, kind: &str, name: Option<&str>, hash: [u8; W]) {
        let text = &mut self.text;
        let start = text.len();
        text.push_str(kind);
        text.push(':');
        match name {
            Some(n) => text.extend(n.chars().map(|c| if c == SEP { ' ' } else { c })),
            None => {
                text.push('#');
                for b in hash.iter().take(8).rev() {
                    let _ = write!(text, "{b:02x}");
                }
            }
        }
        self.items.push((start, text.len(), hash));
    }

    /// Adds a definition by its full label (`tool:x`).
    pub fn push_label(&mut self, label: &str, hash: [u8; W]) {
        let start = self.text.len();
        self.text
            .extend(label.chars().map(|c| if c == SEP { ' ' } else { c }));
        self.items.push((start, self.text.len(), hash));
    }

    /// The table: sorted by name, of two with the same name the first.
    pub fn table(self) -> Table<W> {
        let Self { text, mut items } = self;
        let label = |&(a, b, _): &(usize, usize, [u8; W])| &text[a..b];
        items.sort_by(|x, y| label(x).cmp(label(y)));
        items.dedup_by(|b, a| label(a) == label(b));
        let items = &items[..items.len().min(u32::MAX as usize)];
        let labels = || {
            let mut prev = "";
            items.iter().map(move |item| {
                let l = label(item);
                let mut shared = l
                    .bytes()
                    .zip(prev.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                shared = shared.min(u8::MAX as usize);
                while !l.is_char_boundary(shared) {
                    shared -= 1;
                }
                prev = l;
                (shared, &l.as_bytes()[shared..])
            })
        };
        let names: usize = labels().map(|(_, rest)| rest.len() + 2).sum();
        let mut data = Vec::with_capacity(4 + W * items.len() + names);
        data.extend_from_slice(&(items.len() as u32).to_le_bytes());
        for (_, _, hash) in items {
            data.extend_from_slice(hash);
        }
        for (shared, rest) in labels() {
            data.push(shared as u8);
            data.extend_from_slice(rest);
            data.push(SEP as u8);
        }
        Table {
            data: data.into_boxed_slice(),
        }
    }
}

impl<const W: usize> Table<W> {
    /// How many definitions.
    pub fn len(&self) -> usize {
        self.data
            .first_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize)
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each definition's name and hash, in name order.
    pub fn each(&self, mut f: impl FnMut(&str, &[u8; W])) {
        let mut c = Cursor::new(self);
        while let Some((name, hash)) = c.current() {
            f(name, &hash);
            c.advance();
        }
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// What changed from `before` to `self`.
    pub fn diff(&self, before: &Table<W>) -> Change {
        let mut c = Change::default();
        if self.data == before.data {
            return c;
        }
        let (mut old, mut now) = (Cursor::new(before), Cursor::new(self));
        loop {
            let (left, right) = match (old.current(), now.current()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    if x.1 != y.1 {
                        c.changed.push(y.0.to_owned());
                    }
                    (true, true)
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    c.removed.push(x.0.to_owned());
                    (true, false)
                }
                (Some(x), None) => {
                    c.removed.push(x.0.to_owned());
                    (true, false)
                }
                (_, Some(y)) => {
                    c.added.push(y.0.to_owned());
                    (false, true)
                }
                (None, None) => return c,
            };
            if left {
                old.advance();
            }
            if right {
                now.advance();
            }
        }
    }
}

/// Reads a fingerprint's definitions in name order. The names are front-coded (each is the
/// number of bytes it shares with the one before, at most 255, then the rest, then
/// [`SEP`]): sorted names share long prefixes, `tool:` at least.
struct Cursor<'a, const W: usize> {
    hashes: &'a [u8],
    names: &'a [u8],
    name: Vec<u8>,
    hash: Option<[u8; W]>,
}

impl<'a, const W: usize> Cursor<'a, W> {
    fn new(c: &'a Table<W>) -> Self {
        let n = c.len();
        let mut cursor = Self {
            hashes: c.data.get(4..4 + W * n).unwrap_or_default(),
            names: c.data.get(4 + W * n..).unwrap_or_default(),
            name: Vec::new(),
            hash: None,
        };
        cursor.advance();
        cursor
    }

    fn advance(&mut self) {
        let (Some((hash, hashes)), Some((&shared, names))) = (
            self.hashes.split_first_chunk::<W>(),
            self.names.split_first(),
        ) else {
            self.hash = None;
            return;
        };
        let end = names
            .iter()
            .position(|&b| b == SEP as u8)
            .unwrap_or(names.len());
        self.name.truncate(usize::from(shared));
        self.name.extend_from_slice(&names[..end]);
        self.names = names.get(end + 1..).unwrap_or_default();
        self.hashes = hashes;
        self.hash = Some(*hash);
    }

    /// The definition at the cursor: its name and hash.
    fn current(&self) -> Option<(&str, [u8; W])> {
        let hash = self.hash?;
        Some((std::str::from_utf8(&self.name).unwrap_or("?"), hash))
    }
}
