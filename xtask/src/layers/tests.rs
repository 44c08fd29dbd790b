//! The checker on small synthetic source trees, and on the real `host/src`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Analysis, analyze};

/// A source tree under the temp folder, removed when dropped.
struct Tree {
    dir: PathBuf,
}

impl Tree {
    fn new(files: &[(&str, &str)]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-layers-{}-{n}", std::process::id()));
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Self { dir }
    }

    fn analyze(&self) -> Analysis {
        analyze(&self.dir, "wasmplug").unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Analysis {
    fn index(&self, file: &str) -> usize {
        self.files.iter().position(|f| f == file).unwrap()
    }

    /// The line of the evidence for `from -> to`, if that edge exists.
    fn edge(&self, from: &str, to: &str) -> Option<usize> {
        self.edges.get(&(self.index(from), self.index(to))).copied()
    }

    fn cycle_names(&self) -> Vec<Vec<&str>> {
        let cycles = self.cycles();
        let name = |&f: &usize| self.files[f].as_str();
        cycles
            .iter()
            .map(|c| c.iter().map(name).collect())
            .collect()
    }

    fn problems(&self) -> String {
        self.report(&self.cycles(), &self.long_files())
    }
}

#[test]
fn two_file_cycle_is_reported_with_evidence() {
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        (
            "b.rs",
            "pub struct B;\n\npub fn f() -> crate::a::A {\n    crate::a::A\n}\n",
        ),
    ]);
    let a = tree.analyze();
    assert_eq!(a.cycle_names(), [["a.rs", "b.rs"]]);
    let report = a.problems();
    assert!(report.contains("cycle 1 of 1 (2 files):"), "{report}");
    assert!(report.contains("    a.rs:1 -> b.rs\n"), "{report}");
    assert!(report.contains("    b.rs:3 -> a.rs\n"), "{report}");
}

#[test]
fn cycle_through_a_use_brace_group_is_found() {
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\nmod x;\n"),
        (
            "a.rs",
            "use crate::{\n    b::{self, B},\n    x::{y::{Z as Zed, W}, *},\n};\n",
        ),
        ("b.rs", "use super::a::A;\n"),
        ("x/mod.rs", "pub mod y;\n"),
        ("x/y.rs", "pub struct Z;\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(a.cycle_names(), [["a.rs", "b.rs"]]);
    assert_eq!(a.edge("a.rs", "b.rs"), Some(2));
    assert_eq!(a.edge("a.rs", "x/y.rs"), Some(3));
    assert_eq!(a.edge("a.rs", "x/mod.rs"), Some(3), "the glob");
}

#[test]
fn comments_and_literals_do_not_count() {
    let text = r###"//! crate::b::B in an inner doc comment
/// crate::b::B in a doc comment
// crate::b::B in a comment
/* crate::b::B /* nested crate::b::B */ still a comment crate::b::B */
fn f<'a>(x: &'a str) -> &'a str {
    let _ = "crate::b::f() in a string \" crate::b::g()";
    let _ = r#"crate::b::f() in a "raw" string"#;
    let _ = b"crate::b::f()";
    let _ = br##"crate::b::f() "# still raw"##;
    let _ = ('"', '\'', b'"', '\u{1F600}');
    crate::c::g();
    x
}
"###;
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", text),
        ("b.rs", "use crate::a::f;\n"),
        ("c.rs", "pub fn g() {}\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(a.edge("a.rs", "b.rs"), None);
    assert_eq!(a.edge("a.rs", "c.rs"), Some(11), "the lexer kept its place");
    assert!(a.cycles().is_empty());
}

#[test]
fn reexporting_a_child_is_not_an_edge() {
    let tree = Tree::new(&[
        ("lib.rs", "mod p;\npub use p::child::X;\n"),
        (
            "p/mod.rs",
            "mod child;\nmod other;\npub use child::X;\npub use self::other::O;\n\
             pub(crate) use child::{self as kid};\npub struct Y;\n",
        ),
        ("p/child.rs", "use super::Y;\npub struct X;\n"),
        ("p/other.rs", "pub struct O(super::Y);\n"),
    ]);
    let a = tree.analyze();
    assert!(a.cycles().is_empty(), "{}", a.problems());
    assert_eq!(a.edge("p/mod.rs", "p/child.rs"), None);
    assert_eq!(a.edge("lib.rs", "p/mod.rs"), None);
    assert_eq!(a.edge("p/child.rs", "p/mod.rs"), Some(1));
}

#[test]
fn calling_into_a_child_is_an_edge() {
    let tree = Tree::new(&[
        ("lib.rs", "mod p;\nmod q;\n"),
        (
            "p/mod.rs",
            "mod child;\npub use child::X;\npub struct Y;\n\npub fn g() {\n    child::f()\n}\n",
        ),
        (
            "p/child.rs",
            "use super::Y;\npub struct X;\npub fn f() {}\n",
        ),
        ("q/mod.rs", "mod child;\nuse child::X;\npub struct Y;\n"),
        ("q/child.rs", "use super::Y;\npub struct X;\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(
        a.cycle_names(),
        [["p/child.rs", "p/mod.rs"], ["q/child.rs", "q/mod.rs"]]
    );
    assert_eq!(a.edge("p/mod.rs", "p/child.rs"), Some(6));
    assert_eq!(
        a.edge("q/mod.rs", "q/child.rs"),
        Some(2),
        "a private use of a child"
    );
}

#[test]
fn super_super_resolves() {
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\n"),
        ("a/mod.rs", "mod b;\nmod d;\npub struct Thing;\n"),
        ("a/b/mod.rs", "mod c;\n"),
        (
            "a/b/c.rs",
            "use super::super::Thing;\nfn f() {\n    super::super::d::g();\n}\n",
        ),
        ("a/d.rs", "pub fn g() {}\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(a.edge("a/b/c.rs", "a/mod.rs"), Some(1));
    assert_eq!(a.edge("a/b/c.rs", "a/d.rs"), Some(3));
    assert_eq!(a.edge("a/b/c.rs", "a/b/mod.rs"), None);
}

#[test]
fn dollar_crate_in_a_macro_body_counts() {
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        (
            "a.rs",
            "macro_rules! m {\n    ($x:expr) => {\n        $crate::b::f($x)\n    };\n}\n",
        ),
        ("b.rs", "pub fn f(_: u8) {}\n"),
    ]);
    assert_eq!(tree.analyze().edge("a.rs", "b.rs"), Some(3));
}

#[test]
fn long_files_fail_unless_generated() {
    let lines = |n: usize| "fn f() {}\n".repeat(n);
    let generated = format!("// layers: generated by build.rs\n{}", lines(600));
    let tree = Tree::new(&[
        ("lib.rs", "mod big;\nmod exact;\nmod generated;\n"),
        ("big.rs", &lines(451)),
        ("exact.rs", &lines(450)),
        ("generated.rs", &generated),
    ]);
    let a = tree.analyze();
    assert_eq!(a.long_files(), [a.index("big.rs")]);
    let report = a.problems();
    assert!(
        report.contains("over 450 lines: big.rs (451 lines"),
        "{report}"
    );
}

#[test]
fn bare_relative_use_resolves_to_a_child() {
    let tree = Tree::new(&[
        ("lib.rs", "mod p;\n"),
        (
            "p/mod.rs",
            "mod child;\nuse child::x;\nuse std::fmt;\nuse serde::Serialize;\n",
        ),
        ("p/child.rs", "pub fn x() {}\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(a.edge("p/mod.rs", "p/child.rs"), Some(2));
    assert_eq!(a.edges.len(), 1, "extern crates are not edges");
}

#[test]
fn module_aliases_are_followed() {
    let tree = Tree::new(&[
        ("lib.rs", "mod blocks;\nmod bridge;\n"),
        ("blocks/mod.rs", "pub mod state;\n"),
        ("blocks/state/mod.rs", "pub mod grpc;\n"),
        ("blocks/state/grpc.rs", "use crate::bridge::Instances;\n"),
        (
            "bridge/mod.rs",
            "use crate::{Host, blocks};\n\nfn f() {\n    blocks::state::grpc::serve();\n}\n",
        ),
    ]);
    let a = tree.analyze();
    assert_eq!(a.edge("bridge/mod.rs", "blocks/state/grpc.rs"), Some(4));
    assert_eq!(a.cycle_names(), [["blocks/state/grpc.rs", "bridge/mod.rs"]]);
}

#[test]
fn binaries_reach_the_library_by_name() {
    let tree = Tree::new(&[
        ("lib.rs", "pub mod config;\n"),
        ("config.rs", "pub struct Config;\n"),
        (
            "main.rs",
            "mod cli;\nuse wasmplug::config::Config;\nfn main() { crate::cli::run() }\n",
        ),
        ("cli.rs", "pub fn run() { crate::helper() }\n"),
        (
            "bin/tool/main.rs",
            "mod util;\nfn main() { util::go(wasmplug::config::Config) }\n",
        ),
        (
            "bin/tool/util.rs",
            "pub fn go(_: wasmplug::config::Config) { crate::x() }\n",
        ),
    ]);
    let a = tree.analyze();
    assert_eq!(a.edge("main.rs", "config.rs"), Some(2));
    assert_eq!(a.edge("main.rs", "cli.rs"), Some(3));
    assert_eq!(
        a.edge("cli.rs", "main.rs"),
        Some(1),
        "crate:: in the binary's own module"
    );
    assert_eq!(a.edge("bin/tool/main.rs", "bin/tool/util.rs"), Some(2));
    assert_eq!(a.edge("bin/tool/util.rs", "config.rs"), Some(1));
    assert_eq!(a.edge("bin/tool/util.rs", "bin/tool/main.rs"), Some(1));
    assert_eq!(a.cycle_names().len(), 2);
}

#[test]
fn inline_modules_and_other_non_edges() {
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        (
            "a.rs",
            "pub(in crate::b) fn f() -> impl Sized + use<> {}\n\
             mod tests {\n    use super::*;\n    fn t() { self::inner::g(); super::f(); }\n\
             \n    mod inner {\n        pub fn g() { super::super::super::b::h() }\n    }\n}\n",
        ),
        ("b.rs", "pub fn h() {}\n"),
        ("notes.txt.tmpl", "use crate::a::f;\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(a.files, ["a.rs", "b.rs", "lib.rs"]);
    assert_eq!(a.edges.len(), 1, "{:?}", a.edges);
    assert_eq!(a.edge("a.rs", "b.rs"), Some(7));
}

#[test]
fn listing_and_dot_show_every_file() {
    let tree = Tree::new(&[
        ("lib.rs", "mod a;\nmod b;\nfn f() { a::g(); b::h() }\n"),
        ("a.rs", "pub fn g() { crate::b::h() }\n"),
        ("b.rs", "pub fn h() {}\n"),
    ]);
    let a = tree.analyze();
    assert_eq!(
        a.listing(),
        "a.rs -> b.rs\nb.rs -> (none)\nlib.rs -> a.rs, b.rs\n"
    );
    let dot = a.dot();
    assert!(dot.starts_with("digraph layers {\n"), "{dot}");
    assert!(dot.contains("    \"b.rs\";\n"), "{dot}");
    assert!(dot.contains("    \"lib.rs\" -> \"a.rs\";\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
}

#[test]
fn host_src_is_layered() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/src");
    let a = analyze(&src, "wasmplug").unwrap();
    let problems = a.problems();
    assert!(problems.is_empty(), "host/src is not layered:\n{problems}");
}
