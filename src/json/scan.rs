//! A validating JSON scanner that hands out slices of the text it reads, for the typed
//! parsers' fast path.
//!
//! The scanner never allocates: a string without escapes is a slice of the body, a value
//! nobody reads is checked and skipped, a value kept raw is the slice it spans. It is
//! *sound*, not complete: whatever it accepts is JSON that serde_json accepts too, read
//! the same way, but it may decline JSON that serde_json would take (a key with escapes,
//! a lone surrogate escape, a nesting deeper than [`MAX_DEPTH`]). Every method answers
//! `None` for "declined", and a parser that meets `None` falls back to its serde path,
//! which gives the real answer and, for a bad body, the error with its field path.
//!
//! `fuzz/fuzz_targets/fast_path.rs` holds the parsers built on it to that contract.

use crate::event::{ByteString, RawJson};

/// How deep objects and arrays may nest. serde_json refuses a structure it parses that
/// deep (its recursion limit) but skips and keeps raw values of any depth, so past this
/// the scanner only declines what serde may accept: the safe direction.
pub(crate) const MAX_DEPTH: u32 = 128;

/// A key a parser expects, with its first bytes and closing quote as one word, so that
/// [`Scanner::key`] matches it with one comparison where it stands.
#[derive(Clone, Copy)]
pub(crate) struct Name {
    text: &'static str,
    /// Up to eight bytes of `"{text}"` after the opening quote, little-endian.
    word: u64,
    /// Which bytes of `word` count.
    mask: u64,
}

impl Name {
    /// The key `text`, which must be plain text: no quote, backslash or control
    /// character (checked at compile time where the names are constants).
    pub(crate) const fn new(text: &'static str) -> Name {
        let bytes = text.as_bytes();
        let (mut word, mut mask, mut i) = (0u64, 0u64, 0);
        while i < 8 && i <= bytes.len() {
            let byte = if i < bytes.len() { bytes[i] } else { b'"' };
            assert!(i == bytes.len() || (byte != b'"' && byte != b'\\' && byte >= 0x20));
            word |= (byte as u64) << (8 * i);
            mask |= 0xff << (8 * i);
            i += 1;
        }
        Name { text, word, mask }
    }

    /// The key's text.
    #[cfg(test)]
    pub(crate) const fn text(&self) -> &'static str {
        self.text
    }

    /// [`Name::new`] for each of `texts`.
    pub(crate) const fn all<const N: usize>(texts: [&'static str; N]) -> [Name; N] {
        let mut names = [Name::new(""); N];
        let mut i = 0;
        while i < N {
            names[i] = Name::new(texts[i]);
            i += 1;
        }
        names
    }
}

/// An object's key as [`Scanner::key`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Key<'a> {
    /// The key the caller expected.
    Expected,
    /// Another key.
    Other(&'a str),
}

/// A cursor over one JSON text, already known to be UTF-8.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner {
            text,
            pos: 0,
            depth: 0,
        }
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        let bytes = self.bytes();
        // A compact body has none: one comparison, as in `peek`.
        if bytes.get(self.pos).is_some_and(|&byte| byte > b' ') {
            return;
        }
        loop {
            // A pretty-printed body's whitespace is a newline and a run of spaces, whose
            // length changes from line to line: counted a word at a time, the run costs
            // no branch per space, and no mispredicted loop exit when it ends.
            while let Some(chunk) = bytes.get(self.pos..).and_then(<[u8]>::first_chunk::<8>) {
                let other = u64::from_le_bytes(*chunk) ^ (0x0101_0101_0101_0101 * u64::from(b' '));
                if other != 0 {
                    self.pos += (other.trailing_zeros() / 8) as usize;
                    break;
                }
                self.pos += 8;
            }
            match bytes.get(self.pos) {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.pos += 1,
                _ => return,
            }
        }
    }

    /// The next byte that is not whitespace, left unread.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        // Every byte that starts a token is above the space, and whitespace is not: one
        // comparison in the common case of a body without whitespace between tokens.
        match self.bytes().get(self.pos) {
            Some(&byte) if byte > b' ' => Some(byte),
            _ => {
                self.skip_whitespace();
                self.bytes().get(self.pos).copied()
            }
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// The end of the text: only whitespace may follow the value.
    #[inline]
    pub(crate) fn end(&mut self) -> Option<()> {
        self.skip_whitespace();
        (self.pos == self.text.len()).then_some(())
    }

    /// Reads `true` or `false`.
    #[inline]
    pub(crate) fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| true),
            b'f' => self.literal("false").map(|()| false),
            _ => None,
        }
    }

    #[inline]
    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.pos..)?;
        rest.starts_with(word).then(|| self.pos += word.len())
    }

    /// Enters an object: reads its `{`.
    #[inline]
    pub(crate) fn object(&mut self) -> Option<()> {
        self.eat(b'{')?;
        self.enter()
    }

    #[inline]
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// The next key of the object being read, with its `:` read; `Some(None)` at the
    /// object's end (its `}` read). `first` says whether no member has been read yet. A
    /// key with an escape is declined: serde would match it only once decoded.
    ///
    /// `expected` is the key the caller guesses comes next: when it does, it is matched
    /// byte for byte where it stands ([`Key::Expected`]), without a scan for the closing
    /// quote. It must be plain text (no quote, backslash or control character).
    #[inline]
    pub(crate) fn key(&mut self, first: bool, expected: Option<&Name>) -> Option<Option<Key<'a>>> {
        match self.peek()? {
            b'}' => {
                self.pos += 1;
                self.depth -= 1;
                return Some(None);
            }
            b',' if !first => {
                self.pos += 1;
            }
            b'"' if first => {}
            _ => return None,
        }
        self.eat(b'"')?;
        if let Some(name) = expected {
            if self.at(name) {
                self.pos += name.text.len() + 1;
                self.colon()?;
                return Some(Some(Key::Expected));
            }
        }
        let start = self.pos;
        if self.string_tail()? {
            return None;
        }
        let key = self.text.get(start..self.pos - 1)?;
        self.colon()?;
        Some(Some(Key::Other(key)))
    }

    /// The `:` after a key, and the one space a pretty-printer puts after it (`": "`, as
    /// serde_json and `JSON.stringify` write it), so that the value's first byte is
    /// next: no run of whitespace to count.
    #[inline(always)]
    fn colon(&mut self) -> Option<()> {
        let bytes = self.bytes();
        if bytes.get(self.pos) != Some(&b':') {
            return self.eat(b':');
        }
        // Counted without a branch: compact and pretty-printed bodies alike.
        self.pos += 1 + usize::from(bytes.get(self.pos + 1) == Some(&b' '));
        Some(())
    }

    /// Whether `name` and its closing quote come next.
    #[inline]
    fn at(&self, name: &Name) -> bool {
        let bytes = self.bytes();
        let Some(chunk) = bytes.get(self.pos..).and_then(<[u8]>::first_chunk::<8>) else {
            // Near the end of the body: no room for a word, nor for much of a key.
            let end = self.pos + name.text.len();
            return bytes.get(self.pos..end) == Some(name.text.as_bytes())
                && bytes.get(end) == Some(&b'"');
        };
        if u64::from_le_bytes(*chunk) & name.mask != name.word {
            return false;
        }
        // Names of eight bytes or more: the rest, then the quote.
        let len = name.text.len();
        len < 8 || {
            bytes.get(self.pos + 8..self.pos + len) == name.text.as_bytes().get(8..)
                && bytes.get(self.pos + len) == Some(&b'"')
        }
    }

    /// Reads a string: the text between its quotes, escapes undecoded, and whether it
    /// had any.
    #[inline(always)]
    pub(crate) fn string_span(&mut self) -> Option<(&'a str, bool)> {
        self.eat(b'"')?;
        let start = self.pos;
        let escaped = self.string_tail()?;
        Some((self.text.get(start..self.pos - 1)?, escaped))
    }

    /// Decodes `inner`, the string just read, which has escapes.
    fn decode(&self, inner: &str) -> Option<String> {
        // Escapes are rare in the fields a parser keeps; serde_json decodes them exactly
        // as its own path would (the quotes included in the slice).
        let quoted = self.text.get(self.pos - inner.len() - 2..self.pos)?;
        serde_json::from_str::<String>(quoted).ok()
    }

    /// Reads the rest of a string after its opening quote, through the closing one;
    /// whether it had escapes.
    #[inline]
    fn string_tail(&mut self) -> Option<bool> {
        let bytes = self.bytes();
        let mut pos = self.pos;
        let mut escaped = false;
        loop {
            // Most of a body is string bytes: skip them eight at a time to the next
            // quote, backslash or control character.
            while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
                let special = special_bytes(u64::from_le_bytes(*chunk));
                if special != 0 {
                    pos += (special.trailing_zeros() / 8) as usize;
                    break;
                }
                pos += 8;
            }
            let byte = *bytes.get(pos)?;
            pos += 1;
            match byte {
                b'"' => {
                    self.pos = pos;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos = pos;
                    self.escape()?;
                    pos = self.pos;
                }
                // Control characters must be escaped (RFC 8259, section 7).
                0x00..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// One escape after its backslash. An escaped surrogate must be a high one followed
    /// by an escaped low one; anything else is declined.
    fn escape(&mut self) -> Option<()> {
        let bytes = self.bytes();
        let byte = *bytes.get(self.pos)?;
        self.pos += 1;
        match byte {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if bytes.get(self.pos..self.pos + 2)? != b"\\u" {
                            return None;
                        }
                        self.pos += 2;
                        matches!(self.hex4()?, 0xDC00..=0xDFFF).then_some(())
                    }
                    0xDC00..=0xDFFF => None,
                    _ => Some(()),
                }
            }
            _ => None,
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes().get(self.pos..self.pos + 4)?;
        let mut unit = 0u16;
        for &digit in digits {
            let value = (digit as char).to_digit(16)?;
            unit = unit << 4 | value as u16;
        }
        self.pos += 4;
        Some(unit)
    }

    /// Reads a number: its text, as JSON's grammar has it.
    #[inline]
    pub(crate) fn number(&mut self) -> Option<&'a str> {
        self.skip_whitespace();
        let start = self.pos;
        let bytes = self.bytes();
        if bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match bytes.get(self.pos)? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = bytes.get(self.pos) {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        self.text.get(start..self.pos)
    }

    #[inline]
    fn digits(&mut self) {
        let bytes = self.bytes();
        while bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }

    #[inline]
    fn some_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }

    /// Reads any value and gives its text, exactly as sent.
    #[inline]
    pub(crate) fn raw(&mut self) -> Option<&'a str> {
        self.skip_whitespace();
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos)
    }

    /// Reads any value, checking it and keeping nothing.
    pub(crate) fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string_span().map(drop),
            b'{' => {
                self.object()?;
                let mut first = true;
                while self.key(first, None)?.is_some() {
                    first = false;
                    self.skip()?;
                }
                Some(())
            }
            b'[' => {
                self.pos += 1;
                self.enter()?;
                if self.peek()? == b']' {
                    self.pos += 1;
                    self.depth -= 1;
                    return Some(());
                }
                loop {
                    self.skip()?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' | b'f' => self.boolean().map(drop),
            b'n' => self.literal("null"),
            _ => self.number().map(drop),
        }
    }
}

/// The high bit of each byte of `chunk` (read little-endian) that is a quote, a backslash
/// or a control character: the bytes that end a run of plain string text. Bits above the
/// lowest may be spurious (a borrow carries into the next byte); the lowest is exact, and
/// only it is used.
fn special_bytes(chunk: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let control = chunk.wrapping_sub(ONES * 0x20);
    let quote = chunk ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = chunk ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & !chunk & (ONES << 7)
}

/// Where a string of a parsed event is, in its [`Text`]. An event keeps one reference to
/// its body and a span per field, so that reading a delivery costs one reference count,
/// not one per field (nor an allocation).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The text of this span in `body` followed by `decoded`: the body's bytes, or a
    /// string decoded past its end.
    #[inline]
    fn of<'t>(self, body: &'t str, decoded: &'t str) -> &'t str {
        let (start, end) = (self.start as usize, self.end as usize);
        let len = body.len();
        // Spans are made only by a reader of this body, so one is always found.
        if end <= len {
            body.get(start..end).unwrap_or_default()
        } else {
            // A span never straddles the body's end; if one did, it reads as empty.
            let start = start.checked_sub(len).unwrap_or(usize::MAX);
            decoded.get(start..end - len).unwrap_or_default()
        }
    }
}

/// The text an event's spans point into: the body, then, past its end, the strings the
/// scanner decoded (those written with escapes). For an event serde read, the "body" is
/// every string serde read, one after another, and nothing is decoded past it. A string
/// handed out shares the body's bytes; only a decoded one is a copy.
#[derive(Clone, Debug, Default)]
pub(crate) struct Text {
    body: ByteString,
    // A `String`, not shared bytes: most deliveries have nothing to decode, and keeping
    // the text this small keeps an event's moves cheap.
    decoded: String,
}

impl Text {
    /// The text of a [`Reader`]'s spans: the body it read (moved in, so that an event
    /// costs no reference count of its own) and [`Reader::into_decoded`].
    pub(crate) fn read(body: ByteString, decoded: String) -> Self {
        Text { body, decoded }
    }

    /// The delivery's body when a [`Reader`] read this text. When serde read the event,
    /// it is serde's strings run together, which is not JSON: only the scanner's callers
    /// may take it as the body.
    pub(crate) fn scanned_body(&self) -> &ByteString {
        &self.body
    }

    /// The text of `span`.
    #[inline]
    pub(crate) fn get(&self, span: Span) -> &str {
        span.of(&self.body, &self.decoded)
    }

    /// The value of `span`, a JSON value, sharing the body's bytes when it is the body's.
    pub(crate) fn raw_json(&self, span: Span) -> RawJson {
        RawJson::from_checked(self.shared(span))
    }

    /// The text of `span` as a string of its own: sharing the body's bytes when it is the
    /// body's, a copy when it was decoded.
    pub(crate) fn shared(&self, span: Span) -> ByteString {
        let text = self.get(span);
        if (span.end as usize) <= self.body.len() {
            self.body.slice_ref(text)
        } else {
            ByteString::from(text)
        }
    }
}

/// The strings serde read, gathered into what becomes a [`Text`]'s body, so that each is
/// shared from there as a scanned string is from the delivery's.
#[derive(Default)]
pub(crate) struct Strings(String);

impl Strings {
    /// No strings yet.
    pub(crate) fn new() -> Self {
        Strings::default()
    }

    /// The span of `text`, added at the end; `None` past 4 GiB in all (a body that large
    /// is refused long before it is parsed).
    pub(crate) fn push(&mut self, text: &str) -> Option<Span> {
        append(&mut self.0, 0, text)
    }

    /// The text the spans given point into.
    pub(crate) fn into_text(self) -> Text {
        Text::read(ByteString::from(self.0), String::new())
    }
}

/// Appends `text` to `decoded`, the strings past a body of `body_len` bytes: its span
/// once the body is in front of them; `None` past 4 GiB in all.
fn append(decoded: &mut String, body_len: usize, text: &str) -> Option<Span> {
    let start = u32::try_from(body_len + decoded.len()).ok()?;
    let end = start.checked_add(u32::try_from(text.len()).ok()?)?;
    decoded.push_str(text);
    Some(Span { start, end })
}

/// Implements the traits listed (of `Debug`, `PartialEq`, `Eq`, `Serialize`) for each type
/// through its `view()`: a struct of the values its spans point to, on which the traits
/// are derived, so that they show and compare values, not spans.
macro_rules! by_view {
    ($traits:tt $($ty:ty),* $(,)?) => {
        $($crate::json::scan::by_view!(@each $traits $ty);)*
    };
    (@each [$($trait:ident),*] $ty:ty) => {
        $($crate::json::scan::by_view!(@$trait $ty);)*
    };
    (@Debug $ty:ty) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.view(), f)
            }
        }
    };
    (@PartialEq $ty:ty) => {
        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.view() == other.view()
            }
        }
    };
    (@Eq $ty:ty) => {
        impl Eq for $ty {}
    };
    (@Serialize $ty:ty) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.view(), serializer)
            }
        }
    };
}
pub(crate) use by_view;

/// A [`Scanner`] whose strings are [`Span`]s of a [`Text`]: the typed parsers' reading
/// primitives, each read as serde would read the field's type (and declined where serde
/// might read it otherwise).
pub(crate) struct Reader<'a> {
    /// The cursor; a parser reads structure (objects, `null`) with it directly.
    pub(crate) scanner: Scanner<'a>,
    /// The strings that are not the body's own bytes, which spans past its end point to.
    decoded: String,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `body`; `None` when the body is too large for a span.
    pub(crate) fn new(body: &'a str) -> Option<Self> {
        u32::try_from(body.len()).ok()?;
        Some(Reader {
            scanner: Scanner::new(body),
            decoded: String::new(),
        })
    }

    /// The strings read that are not the body's own bytes: with the body, the text the
    /// spans read point into ([`Text::read`]).
    pub(crate) fn into_decoded(self) -> String {
        self.decoded
    }

    /// The text of a span this reader read.
    #[inline]
    pub(crate) fn get(&self, span: Span) -> &str {
        span.of(self.scanner.text, &self.decoded)
    }

    /// The body's text at `span`, for as long as the body is borrowed; empty for a span
    /// of decoded text.
    #[inline]
    pub(crate) fn body_text(&self, span: Span) -> &'a str {
        let text: &'a str = self.scanner.text;
        text.get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    /// The span of `text`, which must be a slice of the body this reader reads; `None`
    /// when it is not one.
    pub(crate) fn span_of(&self, text: &str) -> Option<Span> {
        let body = self.scanner.text;
        // Addresses compared, not dereferenced: a slice of the body lies within it.
        let start = (text.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
        let end = start.checked_add(text.len())?;
        (end <= body.len() && body.get(start..end) == Some(text)).then(|| self.span(start, end))
    }

    /// The span of `text`, added to the decoded text past the body.
    pub(crate) fn push(&mut self, text: &str) -> Option<Span> {
        append(&mut self.decoded, self.scanner.text.len(), text)
    }

    #[inline]
    fn span(&self, start: usize, end: usize) -> Span {
        // The body's length fits a u32 (checked in `new`).
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// Reads the members of an object whose known keys are `names`, handing `member` the
    /// index in `names` of each key (`names.len()` for any other key), which must read the
    /// value. A key repeated among `names` is declined: serde's derive refuses a duplicate
    /// field, and the fast path must not pick one silently.
    ///
    /// Senders write their fields in one order, so each key is first compared with the
    /// name after the last one found: one comparison, where a search through `names`
    /// would be a branch the processor cannot foresee.
    #[inline]
    pub(crate) fn fields(
        &mut self,
        names: &[Name],
        mut member: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        debug_assert!(names.len() < 64);
        self.scanner.object()?;
        let mut seen = 0u64;
        let mut next = 0;
        let mut first = true;
        while let Some(key) = self.scanner.key(first, names.get(next))? {
            first = false;
            let index = match key {
                Key::Expected => next,
                Key::Other(key) => names
                    .iter()
                    .position(|name| name.text == key)
                    .unwrap_or(names.len()),
            };
            if index < names.len() {
                let bit = 1u64 << index;
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                next = index + 1;
            }
            member(self, index)?;
        }
        Some(())
    }

    /// `Some(None)` for `null`; otherwise `read`'s value.
    #[inline]
    pub(crate) fn nullable<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.scanner.peek()? == b'n' {
            self.scanner.literal("null")?;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A string (serde's `String`).
    #[inline]
    pub(crate) fn text(&mut self) -> Option<Span> {
        let (inner, escaped) = self.scanner.string_span()?;
        let end = self.scanner.pos - 1;
        if !escaped {
            return Some(self.span(end - inner.len(), end));
        }
        let decoded = self.scanner.decode(inner)?;
        append(&mut self.decoded, self.scanner.text.len(), &decoded)
    }

    /// A string, or a non-negative integer's digits (`crate::json::string_or_number`).
    /// A negative or fractional number, or one past `u64`, is declined: serde reads
    /// `-0` as a float, for one.
    #[inline]
    pub(crate) fn id(&mut self) -> Option<Span> {
        if self.scanner.peek()? == b'"' {
            return self.text();
        }
        let digits = self.scanner.number()?;
        // JSON has no leading zeros, so a u64's digits are its decimal text.
        digits.parse::<u64>().ok()?;
        let end = self.scanner.pos;
        Some(self.span(end - digits.len(), end))
    }

    /// A number as serde_json reads an `f64`. Only numbers it computes exactly are read
    /// here: at most 15 digits and no exponent, so that the digits are an exact integer
    /// and serde_json's one division by a power of ten (also exact) is the one rounding;
    /// the same operation is done here. Others are declined rather than risk a last bit
    /// that differs from serde_json's.
    #[inline]
    pub(crate) fn float(&mut self) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        let number = self.scanner.number()?;
        let (negative, digits) = match number.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, number),
        };
        let (mut significand, mut count, mut fraction) = (0u64, 0usize, None);
        for byte in digits.bytes() {
            match byte {
                b'0'..=b'9' => {
                    significand = significand * 10 + u64::from(byte - b'0');
                    count += 1;
                    if count > 15 {
                        return None;
                    }
                    fraction = fraction.map(|digits: usize| digits + 1);
                }
                b'.' => fraction = Some(0),
                _ => return None,
            }
        }
        // At most 15 digits: below 2^53, so exact as an f64.
        #[allow(clippy::cast_precision_loss)]
        let value = significand as f64 / POW10[fraction.unwrap_or(0)];
        Some(if negative { -value } else { value })
    }

    /// A non-negative integer that fits a `u64`.
    #[inline]
    pub(crate) fn unsigned(&mut self) -> Option<u64> {
        let number = self.scanner.number()?;
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        number.parse().ok()
    }

    /// Any value, kept as its text.
    #[inline]
    pub(crate) fn raw(&mut self) -> Option<Span> {
        let text = self.scanner.raw()?;
        let end = self.scanner.pos;
        Some(self.span(end - text.len(), end))
    }

    /// Reads the value at `span`, which this reader has already read past, again with
    /// `read`, then goes on where it was, whatever the answer: for a value met before the
    /// field that says how to read it. `None` unless `read` takes exactly that value.
    /// Strings decoded meanwhile stay in the reader's decoded text, which only grows, so
    /// every span made before or during the read stays good.
    pub(crate) fn reread<T>(
        &mut self,
        span: Span,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<T> {
        // A span of decoded text is no part of the body to read again, and no JSON value
        // is empty.
        let (start, end) = (span.start as usize, span.end as usize);
        if start >= end || end > self.scanner.text.len() {
            return None;
        }
        let (pos, depth) = (self.scanner.pos, self.scanner.depth);
        self.scanner.pos = start;
        let value = read(self);
        let whole = self.scanner.pos == end && self.scanner.depth == depth;
        self.scanner.pos = pos;
        self.scanner.depth = depth;
        value.filter(|_| whole)
    }

    /// `read`'s value, and the span of the JSON value it read (which must be one value).
    #[inline]
    pub(crate) fn spanned<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<(T, Span)> {
        self.scanner.peek()?;
        let start = self.scanner.pos;
        let value = read(self)?;
        Some((value, self.span(start, self.scanner.pos)))
    }

    /// Any value, checked and dropped.
    #[inline]
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.scanner.skip()
    }

    /// The end of the body.
    #[inline]
    pub(crate) fn end(&mut self) -> Option<()> {
        self.scanner.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let mut scanner = Scanner::new(text);
        scanner.skip().is_some() && scanner.end().is_some()
    }

    #[test]
    fn whitespace_is_skipped_as_byte_by_byte() {
        // Every string of up to 10 bytes over whitespace and a few others, at every start.
        const ALPHABET: [u8; 8] = [b' ', b'\n', b'\r', b'\t', b'x', 0x0b, 0xa0, b'{'];
        let mut text = Vec::new();
        for len in 0..=10u32 {
            for mut code in 0..8u64.pow(len.min(5)) {
                text.clear();
                for i in 0..len {
                    text.push(ALPHABET[(code % 8) as usize]);
                    code = if i < 5 { code / 8 } else { code };
                }
                let Ok(text) = std::str::from_utf8(&text) else {
                    continue;
                };
                let expected = text
                    .bytes()
                    .take_while(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
                    .count();
                let mut scanner = Scanner::new(text);
                scanner.skip_whitespace();
                assert_eq!(scanner.pos, expected, "{text:?}");
            }
        }
    }

    #[test]
    fn a_key_s_colon_is_read_with_any_whitespace_around_it() {
        // Around the colon: nothing, the one space a pretty-printer writes, and runs
        // that are not that; the key expected or not, and at the end of the text.
        const AROUND: [&str; 7] = ["", " ", "  ", "\n", " \n ", "\t", "\r\n  "];
        for before in AROUND {
            for after in AROUND {
                for expected in [Name::new("key"), Name::new("other")] {
                    let text = format!("{{\"key\"{before}:{after}\"v\"}}");
                    let mut scanner = Scanner::new(&text);
                    scanner.object().unwrap();
                    let key = scanner.key(true, Some(&expected)).unwrap().unwrap();
                    let wanted = if expected.text() == "key" {
                        Key::Expected
                    } else {
                        Key::Other("key")
                    };
                    assert_eq!(key, wanted, "{text:?}");
                    assert_eq!(scanner.string_span(), Some(("v", false)), "{text:?}");
                    assert_eq!(scanner.key(false, None), Some(None), "{text:?}");
                    assert_eq!(scanner.end(), Some(()), "{text:?}");
                }
                // A key with no colon, a colon and nothing after it, and bytes after
                // `": "` that are not JSON's whitespace nor a value.
                for text in [
                    format!("{{\"key\"{before}{after}\"v\"}}"),
                    format!("{{\"key\"{before}:{after}"),
                    format!("{{\"key\"{before}: {after}:\"v\"}}"),
                    format!("{{\"key\"{before}: \u{b}{after}\"v\"}}"),
                    format!("{{\"key\"{before}: \u{c}\"v\"}}"),
                    format!("{{\"key\"{before}: \u{a0}\"v\"}}"),
                ] {
                    assert!(!skips(&text), "{text:?}");
                    for expected in [Name::new("key"), Name::new("other")] {
                        let mut scanner = Scanner::new(&text);
                        scanner.object().unwrap();
                        let read = scanner
                            .key(true, Some(&expected))
                            .flatten()
                            .and_then(|_| scanner.string_span());
                        assert_eq!(read, None, "{text:?}");
                    }
                }
            }
        }
        // The one space after the colon is read with it; any more is left to the value.
        for (text, after_colon) in [("{\"k\":1}", 5), ("{\"k\": 1}", 6), ("{\"k\":  1}", 6)] {
            let mut scanner = Scanner::new(text);
            scanner.object().unwrap();
            assert_eq!(
                scanner.key(true, Some(&Name::new("k"))),
                Some(Some(Key::Expected))
            );
            assert_eq!(scanner.pos, after_colon, "{text:?}");
        }
    }

    #[test]
    fn accepts_only_json() {
        for good in [
            r#"{"a":[1,-0.5e+3,true,false,null,"x\"\u00e9\ud83d\ude00"],"b":{}}"#,
            " [ ] ",
            "0",
            "\"\"",
            r#"{"":{"":[[]]}}"#,
        ] {
            assert!(skips(good), "{good}");
        }
        for bad in [
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            ".5",
            "1e",
            "tru",
            "nul",
            "\"\u{1}\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00x\"",
            "{\"a\" 1}",
            "{,\"a\":1}",
            "[1 2]",
            "1 2",
            "{\"a\":1 \"b\":2}",
            "\"\\u12g4\"",
        ] {
            assert!(!skips(bad), "{bad}");
        }
        let deep = "[".repeat(MAX_DEPTH as usize + 1) + &"]".repeat(MAX_DEPTH as usize + 1);
        assert!(!skips(&deep));
        let limit = "[".repeat(MAX_DEPTH as usize) + &"]".repeat(MAX_DEPTH as usize);
        assert!(skips(&limit));
    }

    #[test]
    fn hands_out_slices_and_decodes_escapes() {
        let mut scanner = Scanner::new(r#"{"a":"plain","b":"t\u00e9\n","c":{"x":[1]} }"#);
        scanner.object().unwrap();
        assert_eq!(
            scanner.key(true, Some(&Name::new("b"))),
            Some(Some(Key::Other("a")))
        );
        assert_eq!(scanner.string_span(), Some(("plain", false)));
        assert_eq!(
            scanner.key(false, Some(&Name::new("b"))),
            Some(Some(Key::Expected))
        );
        let (inner, escaped) = scanner.string_span().unwrap();
        assert!(escaped);
        assert_eq!(scanner.decode(inner).as_deref(), Some("té\n"));
        assert_eq!(
            scanner.key(false, Some(&Name::new("cc"))),
            Some(Some(Key::Other("c")))
        );
        assert_eq!(scanner.raw(), Some(r#"{"x":[1]}"#));
        assert_eq!(scanner.key(false, None), Some(None));
        assert_eq!(scanner.end(), Some(()));
    }

    #[test]
    fn the_first_special_byte_of_a_chunk_is_found() {
        let naive = |chunk: [u8; 8]| {
            chunk
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        };
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut chunk = state.to_le_bytes();
            // Bias toward the interesting bytes and their neighbours.
            for byte in &mut chunk {
                *byte = match *byte % 8 {
                    0 => b'"',
                    1 => b'\\',
                    2 => *byte % 0x21,
                    3 => 0x80 | *byte,
                    _ => *byte,
                };
            }
            let special = special_bytes(u64::from_le_bytes(chunk));
            let found = (special != 0).then(|| (special.trailing_zeros() / 8) as usize);
            assert_eq!(found, naive(chunk), "{chunk:?}");
        }
    }

    /// Names of every length up to past 24 bytes, against keys that differ from them
    /// at each byte, end early or run on, with the body ending at every point after.
    #[test]
    fn names_match_exactly_their_key_and_quote() {
        const TEXT: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
        let mut checked = 0;
        for len in 0..TEXT.len() {
            let name = Name::new(&TEXT[..len]);
            let mut keys = vec![
                format!("{}\"", &TEXT[..len]),
                format!("{}\"", &TEXT[..len + 1]),
            ];
            if len > 0 {
                keys.push(format!("{}\"", &TEXT[..len - 1]));
                for at in 0..len {
                    let mut key = TEXT.as_bytes()[..len].to_vec();
                    key[at] ^= 0x01;
                    keys.push(format!("{}\"", String::from_utf8(key).unwrap()));
                }
            }
            for key in keys {
                let text = format!("{key}: 1, \"padding\": \"{}\"", "x".repeat(30));
                for end in key.len() - 1..text.len() {
                    let scanner = Scanner {
                        text: &text[..end],
                        pos: 0,
                        depth: 0,
                    };
                    let expected = text.as_bytes()[..end].get(len) == Some(&b'"')
                        && text[..end].starts_with(&TEXT[..len]);
                    assert_eq!(scanner.at(&name), expected, "{len} {:?}", &text[..end]);
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000);
    }

    /// A value read again gives what it gave the first time, and the reader goes on where
    /// it was, whether the second read took the whole value, stopped short or failed; a
    /// span of decoded text is refused.
    #[test]
    fn a_value_read_again_leaves_the_reader_where_it_was() {
        let body = r#"{"a":{"x":"t\u00e9"},"b":[1,2],"c":"s"}"#;
        let mut reader = Reader::new(body).unwrap();
        reader.scanner.object().unwrap();
        assert_eq!(reader.scanner.key(true, None), Some(Some(Key::Other("a"))));
        let a = reader.raw().unwrap();
        assert_eq!(reader.scanner.key(false, None), Some(Some(Key::Other("b"))));
        let b = reader.raw().unwrap();
        let (pos, depth) = (reader.scanner.pos, reader.scanner.depth);
        let decoded = reader
            .reread(a, |r| {
                r.scanner.object()?;
                r.scanner.key(true, None)?;
                let x = r.text()?;
                r.scanner.key(false, None)?;
                Some(x)
            })
            .unwrap();
        assert_eq!(reader.get(decoded), "té");
        assert_eq!((reader.scanner.pos, reader.scanner.depth), (pos, depth));
        // Stops short of the value's end: refused, and the reader is back.
        assert_eq!(reader.reread(b, |r| r.scanner.eat(b'[')), None);
        assert_eq!((reader.scanner.pos, reader.scanner.depth), (pos, depth));
        // Fails inside it: the same.
        assert!(reader.reread(b, |r| r.text()).is_none());
        assert_eq!((reader.scanner.pos, reader.scanner.depth), (pos, depth));
        assert!(reader.reread(decoded, |r| r.raw()).is_none());
        assert_eq!(
            reader.reread(b, |r| r.raw()).map(|s| reader.get(s)),
            Some("[1,2]")
        );
        // And the body reads on to its end.
        assert_eq!(reader.scanner.key(false, None), Some(Some(Key::Other("c"))));
        reader.text().unwrap();
        assert_eq!(reader.scanner.key(false, None), Some(None));
        assert_eq!(reader.end(), Some(()));
    }

    /// Spans are made by the reader, so none is out of place; one that were would read as
    /// empty text (or be refused for a second read), never panic or read another field.
    #[test]
    fn a_span_out_of_place_reads_as_nothing() {
        let (body, decoded) = ("{\"a\":1}", "tail");
        let len = body.len() as u32;
        for (start, end) in [(len - 1, len + 2), (len + 3, len + 1), (len, len), (0, 99)] {
            let span = Span { start, end };
            let text = span.of(body, decoded);
            assert!(text.is_empty(), "{start}..{end}: {text:?}");
            let mut reader = Reader::new(body).unwrap();
            assert!(reader.reread(span, |r| r.raw()).is_none(), "{start}..{end}");
        }
        assert_eq!(
            Span {
                start: len,
                end: len + 4
            }
            .of(body, decoded),
            "tail"
        );
    }

    /// Whitespace of every run length, word boundary and mix is passed over, up to the
    /// next token or the body's end, and a token right after it is read whole.
    #[test]
    fn whitespace_of_any_length_is_passed_over() {
        for run in 0..20 {
            for filler in [" ", "\n", "\t", "\r\n", " \n  "] {
                let gap = |n: usize| format!("\n{}", filler.repeat(n));
                let body = format!(
                    "{}{{{}\"a\"{}:{}1{},{}\"b\":\"x y\"{}}}{}",
                    gap(run),
                    gap(run + 1),
                    gap(run % 3),
                    " ".repeat(run),
                    gap(run + 7),
                    gap(run / 2),
                    gap(run),
                    gap(run + 3)
                );
                let mut scanner = Scanner::new(&body);
                scanner.object().unwrap();
                assert_eq!(
                    scanner.key(true, None),
                    Some(Some(Key::Other("a"))),
                    "{body:?}"
                );
                assert_eq!(scanner.peek(), Some(b'1'), "{body:?}");
                scanner.skip().unwrap();
                assert_eq!(
                    scanner.key(false, None),
                    Some(Some(Key::Other("b"))),
                    "{body:?}"
                );
                assert_eq!(scanner.string_span(), Some(("x y", false)), "{body:?}");
                assert_eq!(scanner.key(false, None), Some(None), "{body:?}");
                assert_eq!(scanner.end(), Some(()), "{body:?}");
            }
        }
        // Whitespace is only these four bytes: a form feed or a non-breaking space is not.
        for other in ["\u{c}", "\u{a0}"] {
            let body = format!("{{{}\"a\":1}}", " ".repeat(9) + other);
            let mut scanner = Scanner::new(&body);
            scanner.object().unwrap();
            assert_eq!(scanner.key(true, None), None, "{body:?}");
        }
    }

    #[test]
    fn keys_with_escapes_are_declined() {
        let mut scanner = Scanner::new(r#"{"\u0069d":1}"#);
        scanner.object().unwrap();
        assert_eq!(scanner.key(true, Some(&Name::new("id"))), None);
    }
}
