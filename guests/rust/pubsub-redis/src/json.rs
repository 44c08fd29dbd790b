//! The `metadata` field of a stream entry: a JSON object of strings, as Dapr writes it
//! (`json.Marshal` of a `map[string]string`: keys sorted, `<`, `>`, `&`, U+2028 and U+2029
//! escaped as `\u00XX`/`\u20XX`), so entries written by this component and by Dapr are
//! byte-for-byte alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The JSON object of `pairs` (a repeated key: the last value wins, as in a map).
pub fn encode(pairs: &[(String, String)]) -> String {
    let map: BTreeMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = String::from("{");
    for (i, (k, v)) in map.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(&mut out, k);
        out.push(':');
        string(&mut out, v);
    }
    out.push('}');
    out
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The pairs of a JSON object whose values are all strings, in the order written; `Err`
/// says what is wrong (Dapr logs such metadata and delivers the message without it).
pub fn decode(text: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "metadata is not UTF-8".to_owned())?;
    let mut p = Reader {
        chars: text.char_indices().peekable(),
    };
    let mut pairs = Vec::new();
    p.expect('{')?;
    if p.eat('}') {
        p.end()?;
        return Ok(pairs);
    }
    loop {
        let k = p.string()?;
        p.expect(':')?;
        if p.eat_word("null") {
            // Go's decoder leaves the key out of a map[string]string for `null`.
        } else {
            let v = p.string()?;
            pairs.push((k, v));
        }
        if p.eat(',') {
            continue;
        }
        p.expect('}')?;
        p.end()?;
        return Ok(pairs);
    }
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl Reader<'_> {
    fn skip_ws(&mut self) {
        while self
            .chars
            .next_if(|(_, c)| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
    }

    fn eat(&mut self, want: char) -> bool {
        self.skip_ws();
        self.chars.next_if(|(_, c)| *c == want).is_some()
    }

    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest: String = self
            .chars
            .clone()
            .take(word.len())
            .map(|(_, c)| c)
            .collect();
        if rest == word {
            for _ in 0..word.len() {
                self.chars.next();
            }
            true
        } else {
            false
        }
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        if self.eat(want) {
            Ok(())
        } else {
            Err(format!("metadata JSON: expected {want:?}"))
        }
    }

    fn end(&mut self) -> Result<(), String> {
        self.skip_ws();
        match self.chars.next() {
            None => Ok(()),
            Some(_) => Err("metadata JSON: text after the object".to_owned()),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut n = 0;
        for _ in 0..4 {
            let d = self
                .chars
                .next()
                .and_then(|(_, c)| c.to_digit(16))
                .ok_or("metadata JSON: bad \\u escape")?;
            n = n * 16 + d;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        if self.chars.next_if(|(_, c)| *c == '"').is_none() {
            return Err("metadata JSON: values must be strings".to_owned());
        }
        let mut out = String::new();
        loop {
            let Some((_, c)) = self.chars.next() else {
                return Err("metadata JSON: unterminated string".to_owned());
            };
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some((_, e)) = self.chars.next() else {
                        return Err("metadata JSON: unterminated string".to_owned());
                    };
                    match e {
                        '"' | '\\' | '/' => out.push(e),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                let low = if self.chars.next_if(|(_, c)| *c == '\\').is_some()
                                    && self.chars.next_if(|(_, c)| *c == 'u').is_some()
                                {
                                    self.hex4()?
                                } else {
                                    0
                                };
                                if (0xDC00..0xE000).contains(&low) {
                                    0x10000 + ((hi - 0xD800) << 10) + (low - 0xDC00)
                                } else {
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err("metadata JSON: bad escape".to_owned()),
                    }
                }
                c if u32::from(c) < 0x20 => {
                    return Err("metadata JSON: control character in a string".to_owned());
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn encodes_like_go() {
        assert_eq!(encode(&[]), "{}");
        assert_eq!(
            encode(&md(&[("b", "2"), ("a", "x\"y\\z\n<&>\u{1}é\u{2028}")])),
            r#"{"a":"x\"y\\z\n\u003c\u0026\u003e\u0001é\u2028","b":"2"}"#
        );
        assert_eq!(encode(&md(&[("k", "1"), ("k", "2")])), r#"{"k":"2"}"#);
    }

    #[test]
    fn decodes_what_it_encodes_and_what_others_write() {
        let pairs = md(&[("a", "x\"y\\z\n<&>\u{1}é😀"), ("b", "")]);
        assert_eq!(decode(encode(&pairs).as_bytes()).unwrap(), pairs);
        assert_eq!(
            decode(br#" { "seq" : "1" , "emoji":"\ud83d\ude00\/", "gone": null } "#).unwrap(),
            md(&[("seq", "1"), ("emoji", "😀/")])
        );
        assert_eq!(decode(b"{}").unwrap(), md(&[]));
    }

    #[test]
    fn refuses_what_is_not_an_object_of_strings() {
        for bad in [
            &b""[..],
            b"[]",
            b"{\"a\":1}",
            b"{\"a\":\"b\"",
            b"{\"a\":\"b\"} x",
            b"{\"a\" \"b\"}",
            b"{\"a\":\"\\q\"}",
            b"\xff",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
