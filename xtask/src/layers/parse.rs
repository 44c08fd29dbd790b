//! Finds, in one file's tokens, its `mod x;` declarations, its inline `mod x { .. }` modules
//! and every path that may name a module: each leaf of a `use` tree, and each path of two or
//! more segments anywhere else (types, expressions, macro invocations and macro bodies).

use super::lex::{Tok, Token};

/// How a path appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    /// A leaf of a `use` tree. `public`: the declaration is `pub`, `pub(crate)`, `pub(super)`
    /// or `pub(in ..)`. `binds`: the name it brings into scope (none for globs and `as _`).
    Use { public: bool, binds: Option<String> },
    /// Any other path.
    Code,
}

/// One path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathRef {
    /// The inline modules it sits in, outermost first.
    pub(super) scope: Vec<String>,
    /// Its segments; a trailing `self` of a `use` leaf is removed, a leading `::` is kept.
    pub(super) segments: Vec<String>,
    pub(super) line: usize,
    pub(super) kind: Kind,
}

/// What one file declares and refers to.
#[derive(Debug, Default)]
pub(super) struct Syntax {
    /// `mod x;` declarations outside inline modules.
    pub(super) mod_decls: Vec<String>,
    /// Inline modules, as paths below the file's own module.
    pub(super) inline_mods: Vec<Vec<String>>,
    pub(super) paths: Vec<PathRef>,
}

/// Parses a file's tokens.
pub(super) fn parse(tokens: &[Token]) -> Syntax {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        scopes: Vec::new(),
        out: Syntax::default(),
    };
    parser.items();
    parser.out
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    /// Current brace depth.
    depth: usize,
    /// Open inline modules: name, and the brace depth of their body.
    scopes: Vec<(String, usize)>,
    out: Syntax,
}

impl<'t> Parser<'t> {
    fn tok(&self, at: usize) -> Option<&'t Tok> {
        self.tokens.get(at).map(|t| &t.tok)
    }

    fn ident(&self, at: usize) -> Option<&'t str> {
        match self.tok(at) {
            Some(Tok::Ident(name)) => Some(name),
            _ => None,
        }
    }

    fn is_punct(&self, at: usize, c: char) -> bool {
        self.tok(at) == Some(&Tok::Punct(c))
    }

    fn is_path_sep(&self, at: usize) -> bool {
        self.tok(at) == Some(&Tok::PathSep)
    }

    /// The line of the token just consumed.
    fn last_line(&self) -> usize {
        self.tokens
            .get(self.pos.saturating_sub(1))
            .map_or(0, |t| t.line)
    }

    fn scope(&self) -> Vec<String> {
        self.scopes.iter().map(|(name, _)| name.clone()).collect()
    }

    fn items(&mut self) {
        while let Some(tok) = self.tok(self.pos) {
            let starts_path = self.is_path_sep(self.pos + 1)
                && !self.pos.checked_sub(1).is_some_and(|p| self.is_path_sep(p));
            match tok {
                Tok::Ident(w) if w == "mod" => self.module(),
                Tok::Ident(w) if w == "use" && !self.is_punct(self.pos + 1, '<') => {
                    self.use_decl();
                }
                // `pub(in crate::a)` restricts visibility; it uses nothing.
                Tok::Ident(w) if w == "pub" && self.is_punct(self.pos + 1, '(') => {
                    self.skip_visibility();
                }
                Tok::Ident(first) if starts_path => self.code_path(first),
                Tok::Punct('{') => {
                    self.depth += 1;
                    self.pos += 1;
                }
                Tok::Punct('}') => {
                    if self.scopes.last().is_some_and(|(_, d)| *d == self.depth) {
                        self.scopes.pop();
                    }
                    self.depth = self.depth.saturating_sub(1);
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// `mod x;` or `mod x {`.
    fn module(&mut self) {
        let name = self.ident(self.pos + 1).filter(|n| !n.starts_with('$'));
        match name {
            Some(name) if self.is_punct(self.pos + 2, ';') => {
                if self.scopes.is_empty() {
                    self.out.mod_decls.push(name.to_owned());
                }
                self.pos += 3;
            }
            Some(name) if self.is_punct(self.pos + 2, '{') => {
                self.depth += 1;
                self.scopes.push((name.to_owned(), self.depth));
                self.out.inline_mods.push(self.scope());
                self.pos += 3;
            }
            _ => self.pos += 1,
        }
    }

    fn skip_visibility(&mut self) {
        let mut at = self.pos + 2;
        while self.tok(at).is_some() && !self.is_punct(at, ')') {
            at += 1;
        }
        self.pos = at + 1;
    }

    /// `a::b::c` outside `use`: its segments up to the first that is not an identifier.
    fn code_path(&mut self, first: &str) {
        let line = self.tokens.get(self.pos).map_or(0, |t| t.line);
        let mut segments = vec![first.to_owned()];
        let mut at = self.pos + 1;
        while self.is_path_sep(at) {
            let Some(next) = self.ident(at + 1) else {
                break;
            };
            segments.push(next.to_owned());
            at += 2;
        }
        self.pos = at;
        self.out.paths.push(PathRef {
            scope: self.scope(),
            segments,
            line,
            kind: Kind::Code,
        });
    }

    /// Whether the `use` at `at` is preceded by `pub`, `pub(crate)`, `pub(super)` or `pub(in ..)`.
    fn is_public(&self, at: usize) -> bool {
        let Some(prev) = at.checked_sub(1) else {
            return false;
        };
        match self.tok(prev) {
            Some(Tok::Ident(w)) => w == "pub",
            Some(Tok::Punct(')')) => {
                let mut open = prev;
                while open > 0 && !self.is_punct(open, '(') {
                    open -= 1;
                }
                let private = self.ident(open + 1) == Some("self") && open + 2 == prev;
                let after_pub = open.checked_sub(1).and_then(|k| self.ident(k)) == Some("pub");
                after_pub && !private
            }
            _ => false,
        }
    }

    fn use_decl(&mut self) {
        let public = self.is_public(self.pos);
        self.pos += 1;
        let mut prefix = Vec::new();
        if self.is_path_sep(self.pos) {
            prefix.push("::".to_owned());
            self.pos += 1;
        }
        self.use_tree(prefix, public);
    }

    /// One `use` tree: `a::b`, `a::b as c`, `a::*` or `a::{tree, ..}`, after `prefix`.
    fn use_tree(&mut self, mut segments: Vec<String>, public: bool) {
        loop {
            match self.tok(self.pos) {
                Some(Tok::Ident(name)) => {
                    segments.push(name.clone());
                    self.pos += 1;
                    if self.is_path_sep(self.pos) {
                        self.pos += 1;
                        continue;
                    }
                    let mut rename = None;
                    if self.ident(self.pos) == Some("as") {
                        rename = self.ident(self.pos + 1).map(str::to_owned);
                        self.pos += 2;
                    }
                    return self.leaf(segments, public, rename, false);
                }
                Some(Tok::Punct('*')) => {
                    self.pos += 1;
                    return self.leaf(segments, public, None, true);
                }
                Some(Tok::Punct('{')) => {
                    self.pos += 1;
                    return self.group(&segments, public);
                }
                _ => return,
            }
        }
    }

    /// The trees of a brace group, through its closing brace.
    fn group(&mut self, prefix: &[String], public: bool) {
        loop {
            match self.tok(self.pos) {
                None | Some(Tok::Punct(';')) => return,
                Some(Tok::Punct('}')) => {
                    self.pos += 1;
                    return;
                }
                Some(Tok::Punct(',')) => self.pos += 1,
                Some(_) => {
                    let before = self.pos;
                    self.use_tree(prefix.to_vec(), public);
                    if self.pos == before {
                        self.pos += 1;
                    }
                }
            }
        }
    }

    fn leaf(
        &mut self,
        mut segments: Vec<String>,
        public: bool,
        rename: Option<String>,
        glob: bool,
    ) {
        if segments.len() > 1 && segments.last().is_some_and(|s| s == "self") {
            segments.pop();
        }
        if segments.is_empty() {
            return;
        }
        let binds = match rename {
            _ if glob => None,
            Some(name) if name == "_" => None,
            Some(name) => Some(name),
            None => segments.last().cloned(),
        };
        self.out.paths.push(PathRef {
            scope: self.scope(),
            segments,
            line: self.last_line(),
            kind: Kind::Use { public, binds },
        });
    }
}
