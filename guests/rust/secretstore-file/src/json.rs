//! A small, strict JSON (RFC 8259) parser that keeps numbers as their source text.
//!
//! Secrets are strings, so a number should become exactly what the file says (`1.50`, not
//! `1.5`; `12345678901234567890` without rounding), which a general-purpose parser that
//! decodes numbers to floats cannot promise. Objects keep their members in file order,
//! duplicates included (the caller decides what a duplicate means).

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's text, as written.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// The deepest nesting of arrays and objects accepted (a guard against stack exhaustion).
pub const MAX_DEPTH: usize = 128;

/// Parse a whole document: one value, surrounded by optional whitespace (and optionally
/// preceded by a UTF-8 byte-order mark). The error gives the line and column.
pub fn parse(text: &str) -> Result<Value, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let result = parser.document();
    result.map_err(|msg| {
        let before = &text.as_bytes()[..parser.pos.min(text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("line {line} column {column}: {msg}")
    })
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Value, String> {
        let value = self.value(0)?;
        self.skip_whitespace();
        if self.pos < self.bytes.len() {
            return Err("unexpected data after the JSON value".to_owned());
        }
        Ok(value)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}'", char::from(byte)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_whitespace();
        match self.peek() {
            None => Err("unexpected end of input".to_owned()),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.text[self.pos..].starts_with(word) {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                Err("expected a JSON value".to_owned())
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".to_owned());
        }
        self.expect(b'{')?;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err("expected a string key".to_owned());
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':')?;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err("expected ',' or '}'".to_owned()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".to_owned());
        }
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err("expected ',' or ']'".to_owned()),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<String, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err("invalid number".to_owned()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err("invalid number: expected digits after '.'".to_owned());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err("invalid number: expected exponent digits".to_owned());
            }
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| "invalid \\u escape".to_owned())?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| "invalid \\u escape".to_owned())
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters up to the next quote, backslash or control.
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                None => return Err("unterminated string".to_owned()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek().ok_or("unterminated string")?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => {
                            self.pos -= 1;
                            return Err("invalid escape".to_owned());
                        }
                    }
                }
                Some(_) => return Err("control character in string".to_owned()),
            }
        }
    }

    /// The character of a `\u` escape (after the `\u`), joining a surrogate pair. A lone
    /// surrogate becomes U+FFFD, as Go's `encoding/json` (which Dapr uses) does.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.text[self.pos..].starts_with("\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            // Not a low surrogate: leave it to be decoded on its own.
            self.pos = save;
        }
        Ok(char::from_u32(first).unwrap_or('\u{fffd}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    fn n(text: &str) -> Value {
        Value::Number(text.to_owned())
    }

    #[test]
    fn parses_documents() {
        assert_eq!(
            parse(
                r#" { "a" : [1, -2.50, 3e+2, 0, -0.0E-7], "b": {"c": null, "d": true, "e": false}, "f": "" } "#
            ),
            Ok(Value::Object(vec![
                (
                    "a".to_owned(),
                    Value::Array(vec![n("1"), n("-2.50"), n("3e+2"), n("0"), n("-0.0E-7")])
                ),
                (
                    "b".to_owned(),
                    Value::Object(vec![
                        ("c".to_owned(), Value::Null),
                        ("d".to_owned(), Value::Bool(true)),
                        ("e".to_owned(), Value::Bool(false)),
                    ])
                ),
                ("f".to_owned(), s("")),
            ]))
        );
        assert_eq!(parse("12345678901234567890"), Ok(n("12345678901234567890")));
        assert_eq!(parse("[]"), Ok(Value::Array(vec![])));
        assert_eq!(parse("{}"), Ok(Value::Object(vec![])));
        assert_eq!(parse("\u{feff}{}"), Ok(Value::Object(vec![])));
        // Duplicates are kept, in order.
        assert_eq!(
            parse(r#"{"k":1,"k":2}"#),
            Ok(Value::Object(vec![
                ("k".to_owned(), n("1")),
                ("k".to_owned(), n("2"))
            ]))
        );
    }

    #[test]
    fn decodes_string_escapes() {
        assert_eq!(
            parse(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00ü""#),
            Ok(s("a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{20ac}\u{1f600}ü"))
        );
        // Lone surrogates become U+FFFD.
        assert_eq!(parse(r#""\ud800x""#), Ok(s("\u{fffd}x")));
        assert_eq!(parse(r#""\udc00""#), Ok(s("\u{fffd}")));
        assert_eq!(parse(r#""\ud800\u0041""#), Ok(s("\u{fffd}A")));
    }

    #[test]
    fn rejects_malformed_documents() {
        for text in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "[1 2]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            "{'a':1}",
            r#"{"a":1}x"#,
            r#"{"a":1}{}"#,
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "--1",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "True",
            r#""unterminated"#,
            r#""bad \x escape""#,
            r#""bad \u12 escape""#,
            "\"tab\there\"",
            "\"new\nline\"",
            "// comment\n{}",
        ] {
            assert!(parse(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn errors_have_positions() {
        let err = parse("{\n  \"a\": 1,\n  \"b\": ?\n}").unwrap_err();
        assert!(err.starts_with("line 3 column 8:"), "{err}");
    }

    #[test]
    fn limits_nesting() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(&deep).unwrap_err().contains("nested too deeply"));
        let deep_objects = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert!(parse(&deep_objects).is_err());
    }
}
