//! A Rust lexer just good enough to find paths. Comments and literals are dropped (their text
//! is not code); everything else becomes identifiers, `::` and single punctuation characters.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// An identifier or keyword, `r#` removed; a macro metavariable keeps its `$` (`$crate`).
    Ident(String),
    /// `::`.
    PathSep,
    /// Any other punctuation character.
    Punct(char),
    /// A string, byte string, character or number literal.
    Literal,
    /// A lifetime or loop label such as `'a`.
    Lifetime,
}

/// A token and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) line: usize,
}

/// The tokens of `source`.
pub(super) fn lex(source: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        line: 1,
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    out: Vec<Token>,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn push(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            let line = self.line;
            match (c, self.peek(1)) {
                ('/', Some('/')) => self.line_comment(),
                ('/', Some('*')) => self.block_comment(),
                ('"', _) => {
                    self.bump();
                    self.quoted('"');
                    self.push(Tok::Literal, line);
                }
                ('\'', _) => self.quote(line),
                (':', Some(':')) => {
                    self.bump_n(2);
                    self.push(Tok::PathSep, line);
                }
                ('$', Some(next)) if is_ident_start(next) => {
                    self.bump();
                    let name = self.ident();
                    self.push(Tok::Ident(format!("${name}")), line);
                }
                _ if is_ident_start(c) => self.word(line),
                _ if c.is_ascii_digit() => {
                    self.number();
                    self.push(Tok::Literal, line);
                }
                _ if c.is_whitespace() => self.bump(),
                _ => {
                    self.bump();
                    self.push(Tok::Punct(c), line);
                }
            }
        }
    }

    /// `//`, `///` and `//!` comments, up to (not including) the newline.
    fn line_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// `/* .. */`, nested ones included.
    fn block_comment(&mut self) {
        self.bump_n(2);
        let mut depth = 1;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (None, _) => return,
                (Some('/'), Some('*')) => {
                    depth += 1;
                    self.bump_n(2);
                }
                (Some('*'), Some('/')) => {
                    depth -= 1;
                    self.bump_n(2);
                }
                _ => self.bump(),
            }
        }
    }

    /// The rest of a quoted literal after its opening quote, escapes included.
    fn quoted(&mut self, close: char) {
        while let Some(c) = self.peek(0) {
            if c == '\\' {
                self.bump_n(2);
            } else {
                self.bump();
                if c == close {
                    return;
                }
            }
        }
    }

    /// The rest of a raw string after its opening quote: up to `"` and `hashes` `#`s.
    fn raw_body(&mut self, hashes: usize) {
        while let Some(c) = self.peek(0) {
            if c == '"' && (1..=hashes).all(|k| self.peek(k) == Some('#')) {
                self.bump_n(1 + hashes);
                return;
            }
            self.bump();
        }
    }

    /// A character literal (`'a'`, `'\n'`, `'"'`) or a lifetime (`'a`).
    fn quote(&mut self, line: usize) {
        if self.peek(1) == Some('\\') || self.peek(2) == Some('\'') {
            self.bump();
            self.quoted('\'');
            self.push(Tok::Literal, line);
        } else {
            self.bump();
            self.ident();
            self.push(Tok::Lifetime, line);
        }
    }

    /// A literal with a prefix: `b"..."`, `c"..."`, `r"..."`, `br#"..."#`, `cr"..."`, `b'x'`.
    fn prefixed_literal(&mut self) -> bool {
        let n = usize::from(matches!(self.peek(0), Some('b' | 'c')));
        if self.peek(n) == Some('r') {
            let mut hashes = 0;
            while self.peek(n + 1 + hashes) == Some('#') {
                hashes += 1;
            }
            if self.peek(n + 1 + hashes) != Some('"') {
                return false;
            }
            self.bump_n(n + 2 + hashes);
            self.raw_body(hashes);
            return true;
        }
        match (n, self.peek(0), self.peek(1)) {
            (1, _, Some('"')) => {
                self.bump_n(2);
                self.quoted('"');
                true
            }
            (1, Some('b'), Some('\'')) => {
                self.bump_n(2);
                self.quoted('\'');
                true
            }
            _ => false,
        }
    }

    /// An identifier (raw ones too), or a prefixed literal.
    fn word(&mut self, line: usize) {
        if self.prefixed_literal() {
            self.push(Tok::Literal, line);
            return;
        }
        if self.peek(0) == Some('r')
            && self.peek(1) == Some('#')
            && self.peek(2).is_some_and(is_ident_start)
        {
            self.bump_n(2);
        }
        let name = self.ident();
        self.push(Tok::Ident(name), line);
    }

    fn ident(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek(0).filter(|c| is_ident_continue(*c)) {
            name.push(c);
            self.bump();
        }
        name
    }

    /// `12`, `0x1f_u8`, `1.5e3`: digits and letters, and a `.` followed by a digit.
    fn number(&mut self) {
        loop {
            while self.peek(0).is_some_and(is_ident_continue) {
                self.bump();
            }
            if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            } else {
                return;
            }
        }
    }
}
