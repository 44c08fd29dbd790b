//! `cargo xtask layers [--dot]`: checks that the files of `host/src` form layers.
//!
//! It reads every `*.rs` file under `host/src` (other files, such as the scaffold's `*.tmpl`
//! templates, are skipped), builds the graph of which file depends on which, and fails when
//!
//! - files depend on each other in a cycle: each strongly connected component is printed as
//!   a closed chain of files, each step with the `file:line` of one reference behind it;
//! - a file is longer than 450 lines, unless its first line is a `//` comment containing
//!   `layers: generated` (for generated code).
//!
//! Otherwise it prints each file with the files it depends on (Graphviz dot on stdout with
//! `--dot`, the summary then going to stderr) and `ok: N files, M edges, no cycles`.
//!
//! # Crates and modules
//!
//! - `lib.rs` is the library's root; `main.rs`, `bin/<name>.rs` and `bin/<name>/main.rs` are
//!   binary roots, each its own crate. In a binary, `crate::` is the binary and `wasmplug::`
//!   is the library.
//! - Module `a` is `a.rs` or `a/mod.rs`; the files of its submodules are in `a/` (a crate
//!   root's are in its own folder). Files under `bin/<name>/` belong to `bin/<name>/main.rs`.
//!   `main.rs` and `bin/<name>.rs` share their folder, so they own only the modules they
//!   declare with `mod x;` (and those modules' folders); every other file outside `bin/`
//!   belongs to the library. A file no crate owns is a node whose only resolvable paths are
//!   `wasmplug::` ones.
//! - An inline `mod x { .. }` is part of its file (not a node of its own), but it is a module
//!   for `self::`, `super::` and for walking paths through it.
//!
//! # References
//!
//! Comments (`//`, `///`, `//!`, nested `/* */`) and literals (strings, raw strings `r#".."#`,
//! byte and C strings, characters; not lifetimes) are skipped. What is left is searched for
//! paths of two or more segments anywhere in the code (types, expressions, attributes, macro
//! invocations and `macro_rules!` bodies) and for every leaf of every `use` tree (brace groups
//! nested to any depth, `self` in braces, `as` renames, globs). A path is a reference when
//! its first segment is
//!
//! - `crate` or `$crate`: the crate root of the file's crate;
//! - `self`, or `super` (each further `super` one more level up): from the file's module,
//!   inline modules included;
//! - the library's name (`wasmplug`), in a file of a binary crate: the library root;
//! - any other name that is a child module (a file or inline module) of the current module,
//!   or inside an inline module, of an enclosing module of the same file (2018 uniform paths:
//!   `use child::X;`, `child::f()`);
//! - any other name that one of the file's `use` leaves binds to a module (`use crate::blocks;`
//!   then `blocks::state::grpc::f()`; aliases are file-wide).
//!
//! Other first segments (`std`, other crates, types, locals) are not references.
//!
//! From its start a reference is walked segment by segment: while the next segment names a
//! child module that exists, it descends (`super` and `self` also count). The edge goes to the
//! file of the deepest module reached: `crate::blocks::state::StateStore` goes to
//! `blocks/state/mod.rs`, `crate::blocks::state::grpc::f` to `blocks/state/grpc.rs`.
//!
//! Not edges: references into the file itself; a `pub use`, `pub(crate) use`, `pub(super) use`
//! or `pub(in ..) use` leaf reaching a strict descendant of the file's module (an index
//! re-exporting its children: `pub use grpc::GrpcStateStore;` in `blocks/state/mod.rs`, or
//! `pub use blocks::state::StateStore;` in `lib.rs`); `mod x;` declarations; the path inside
//! `pub(in path)`. Any other reference to a descendant is an edge: a private `use` of a
//! child, or code calling into one.
//!
//! Not modelled: `#[path]` attributes, names a glob import brings in (the glob itself is an
//! edge to the module it imports from), `use` declarations scoped to a block (they count for
//! the whole file), and names `macro_rules!` metavariables stand for.

mod graph;
mod lex;
mod parse;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The longest a file may be, in lines.
const MAX_LINES: usize = 450;
/// The mark, in a file's first line (a `//` comment), that exempts generated code.
const GENERATED: &str = "layers: generated";
/// The library's crate name, as binaries write it.
const LIB_NAME: &str = "wasmplug";

/// Runs `cargo xtask layers [--dot]` on the workspace at `root`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let dot = match args {
        [] => false,
        [flag] if flag == "--dot" => true,
        _ => bail!("usage: cargo xtask layers [--dot]"),
    };
    let analysis = analyze(&root.join("host/src"), LIB_NAME)?;
    let cycles = analysis.cycles();
    let long = analysis.long_files();
    if !cycles.is_empty() || !long.is_empty() {
        eprint!("{}", analysis.report(&cycles, &long));
        bail!(
            "host/src is not layered: {} cycle(s) between files, {} file(s) over {MAX_LINES} lines",
            cycles.len(),
            long.len()
        );
    }
    let summary = format!(
        "ok: {} files, {} edges, no cycles",
        analysis.files.len(),
        analysis.edges.len()
    );
    if dot {
        print!("{}", analysis.dot());
        eprintln!("{summary}");
    } else {
        print!("{}", analysis.listing());
        println!("{summary}");
    }
    Ok(())
}

/// The dependency graph of one source folder.
#[derive(Debug)]
pub(crate) struct Analysis {
    /// The files, relative to the folder, `/`-separated, sorted.
    files: Vec<String>,
    /// Each file's length in lines, and whether it is marked generated.
    lengths: Vec<(usize, bool)>,
    /// The edges (from, to), each with the line in `from` of one reference to `to`.
    edges: BTreeMap<(usize, usize), usize>,
}

/// Reads and analyses every `*.rs` file under `src`; `lib_name` is the library's crate name.
pub(crate) fn analyze(src: &Path, lib_name: &str) -> Result<Analysis> {
    let files = rust_files(src)?;
    let mut lengths = Vec::new();
    let mut syntax = Vec::new();
    for file in &files {
        let path = src.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let generated = text
            .lines()
            .next()
            .map(str::trim_start)
            .is_some_and(|l| l.starts_with("//") && l.contains(GENERATED));
        lengths.push((text.lines().count(), generated));
        syntax.push(parse::parse(&lex::lex(&text)));
    }
    let tree = resolve::Tree::new(&files, &syntax, lib_name);
    let mut edges = BTreeMap::new();
    for (from, file_syntax) in syntax.iter().enumerate() {
        for (to, line) in tree.edges(from, file_syntax) {
            let evidence = edges.entry((from, to)).or_insert(line);
            *evidence = (*evidence).min(line);
        }
    }
    Ok(Analysis {
        files,
        lengths,
        edges,
    })
}

/// The `*.rs` files under `src`, relative and `/`-separated, sorted.
fn rust_files(src: &Path) -> Result<Vec<String>> {
    if !src.is_dir() {
        bail!("{} is not a folder", src.display());
    }
    let mut files = Vec::new();
    let mut folders = vec![src.to_owned()];
    while let Some(folder) = folders.pop() {
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("listing {}", folder.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src)?;
                let parts: Option<Vec<&str>> = relative
                    .components()
                    .map(|c| c.as_os_str().to_str())
                    .collect();
                let parts = parts.with_context(|| format!("{} is not UTF-8", path.display()))?;
                files.push(parts.join("/"));
            }
        }
    }
    files.sort();
    Ok(files)
}

impl Analysis {
    fn adjacency(&self) -> Vec<Vec<usize>> {
        let mut adjacency = vec![Vec::new(); self.files.len()];
        for &(from, to) in self.edges.keys() {
            adjacency[from].push(to);
        }
        adjacency
    }

    /// The cycles: strongly connected components of two or more files.
    pub(crate) fn cycles(&self) -> Vec<Vec<usize>> {
        graph::components(&self.adjacency())
    }

    /// The files over the limit that are not marked generated.
    pub(crate) fn long_files(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&f| matches!(self.lengths[f], (n, false) if n > MAX_LINES))
            .collect()
    }

    /// What is wrong, one problem after another; empty when nothing is.
    pub(crate) fn report(&self, cycles: &[Vec<usize>], long: &[usize]) -> String {
        let adjacency = self.adjacency();
        let mut out = String::new();
        for (n, cycle) in cycles.iter().enumerate() {
            let _ = writeln!(
                out,
                "cycle {} of {} ({} files):",
                n + 1,
                cycles.len(),
                cycle.len()
            );
            for hop in graph::closed_walk(cycle, &adjacency).windows(2) {
                let line = self.edges.get(&(hop[0], hop[1])).copied().unwrap_or(0);
                let (from, to) = (&self.files[hop[0]], &self.files[hop[1]]);
                let _ = writeln!(out, "    {from}:{line} -> {to}");
            }
        }
        for &file in long {
            let _ = writeln!(
                out,
                "over {MAX_LINES} lines: {} ({} lines; generated code may start with `// {GENERATED}`)",
                self.files[file], self.lengths[file].0
            );
        }
        out
    }

    /// Each file and the files it depends on.
    fn listing(&self) -> String {
        let adjacency = self.adjacency();
        let mut out = String::new();
        for (file, deps) in adjacency.iter().enumerate() {
            let deps: Vec<&str> = deps.iter().map(|&d| self.files[d].as_str()).collect();
            let deps = if deps.is_empty() {
                "(none)".to_owned()
            } else {
                deps.join(", ")
            };
            let _ = writeln!(out, "{} -> {deps}", self.files[file]);
        }
        out
    }

    /// The graph in Graphviz dot.
    fn dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from("digraph layers {\n    rankdir=LR;\n");
        for file in &self.files {
            let _ = writeln!(out, "    {};", quote(file));
        }
        for &(from, to) in self.edges.keys() {
            let (from, to) = (quote(&self.files[from]), quote(&self.files[to]));
            let _ = writeln!(out, "    {from} -> {to};");
        }
        out.push_str("}\n");
        out
    }
}
