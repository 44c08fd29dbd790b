//! The crates and module tree of a source folder, and the resolution of paths to files.

use std::collections::HashMap;

use super::parse::{Kind, Syntax};

/// A module: its crate (the index of the crate's root file) and its path below that root.
pub(super) type Module = (usize, Vec<String>);

/// How a crate root relates to the files beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootKind {
    /// `lib.rs`: owns every file outside `bin/` that no binary claims.
    Library,
    /// `main.rs` or `bin/<name>.rs`: shares its folder, so owns only the modules it declares.
    SharedBinary,
    /// `bin/<name>/main.rs`: owns its folder.
    FolderBinary,
}

#[derive(Debug)]
struct Root {
    file: usize,
    /// The folder its top-level modules live in, `""` or ending in `/`.
    dir: String,
    kind: RootKind,
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The deepest module reached.
    pub(super) module: Module,
    /// The file that module lives in.
    pub(super) file: usize,
    /// Whether every segment named a module (so the path itself names `module`).
    pub(super) complete: bool,
}

/// The module tree.
#[derive(Debug)]
pub(super) struct Tree {
    /// Every module that has a file or an inline `mod x { .. }` block, and its file.
    modules: HashMap<Module, usize>,
    /// The module of each file, if the file belongs to a crate.
    places: Vec<Option<Module>>,
    /// The library's root file and the name binaries call it by.
    library: Option<(usize, String)>,
}

fn crate_roots(files: &[String]) -> Vec<Root> {
    let mut roots = Vec::new();
    for (file, path) in files.iter().enumerate() {
        let parts: Vec<&str> = path.split('/').collect();
        let (dir, kind) = match parts.as_slice() {
            ["lib.rs"] => (String::new(), RootKind::Library),
            ["main.rs"] => (String::new(), RootKind::SharedBinary),
            ["bin", _] => ("bin/".to_owned(), RootKind::SharedBinary),
            ["bin", name, "main.rs"] => (format!("bin/{name}/"), RootKind::FolderBinary),
            _ => continue,
        };
        roots.push(Root { file, dir, kind });
    }
    roots
}

/// The module path of a file at `rest` below its crate's folder: `a/b.rs` and `a/b/mod.rs`
/// are both `a::b`.
fn module_path(rest: &str) -> Vec<String> {
    let mut path: Vec<String> = rest
        .split('/')
        .map(|p| p.strip_suffix(".rs").unwrap_or(p).to_owned())
        .collect();
    if path.last().is_some_and(|p| p == "mod") {
        path.pop();
    }
    path
}

/// The crate a (non-root) file belongs to, and its module path there.
fn place(file: &str, roots: &[Root], syntax: &[Syntax]) -> Option<Module> {
    let declares = |root: &&Root| {
        let rest = file.strip_prefix(&root.dir).unwrap_or_default();
        let top = rest.split('/').next().unwrap_or_default();
        let top = top.strip_suffix(".rs").unwrap_or(top);
        root.kind == RootKind::SharedBinary
            && !rest.is_empty()
            && top != "bin"
            && syntax[root.file].mod_decls.iter().any(|m| m == top)
    };
    let owner = roots
        .iter()
        .find(|r| r.kind == RootKind::FolderBinary && file.starts_with(&r.dir))
        .or_else(|| roots.iter().find(declares))
        .or_else(|| {
            let in_bin = file.starts_with("bin/");
            roots
                .iter()
                .find(|r| r.kind == RootKind::Library && !in_bin)
        })?;
    Some((owner.file, module_path(&file[owner.dir.len()..])))
}

impl Tree {
    /// The tree of `files` (relative, `/`-separated), given what each declares.
    pub(super) fn new(files: &[String], syntax: &[Syntax], lib_name: &str) -> Self {
        let roots = crate_roots(files);
        let places: Vec<Option<Module>> = (0..files.len())
            .map(|i| match roots.iter().find(|r| r.file == i) {
                Some(root) => Some((root.file, Vec::new())),
                None => place(&files[i], &roots, syntax),
            })
            .collect();
        let mut modules = HashMap::new();
        for (file, module) in places.iter().enumerate() {
            if let Some(module) = module {
                modules.entry(module.clone()).or_insert(file);
            }
        }
        for (file, module) in places.iter().enumerate() {
            let Some((krate, path)) = module else {
                continue;
            };
            for inline in &syntax[file].inline_mods {
                let mut inner = path.clone();
                inner.extend(inline.iter().cloned());
                modules.entry((*krate, inner)).or_insert(file);
            }
        }
        let library = roots
            .iter()
            .find(|r| r.kind == RootKind::Library)
            .map(|r| (r.file, lib_name.to_owned()));
        Self {
            modules,
            places,
            library,
        }
    }

    /// The file a module lives in: its own, or that of its nearest ancestor that has one.
    fn file_of(&self, (krate, path): &Module) -> Option<usize> {
        (0..=path.len())
            .rev()
            .find_map(|k| self.modules.get(&(*krate, path[..k].to_vec())).copied())
    }

    /// The module a path starting with `first` starts from, in `file` within inline `scope`;
    /// `None` when it is not a path into this workspace's crates.
    fn start(
        &self,
        file: usize,
        scope: &[String],
        first: &str,
        aliases: &HashMap<String, Module>,
    ) -> Option<Module> {
        let library = self
            .library
            .as_ref()
            .filter(|(_, name)| name == first)
            .map(|(root, _)| *root);
        let Some((krate, path)) = self.places[file].clone() else {
            return library.map(|root| (root, Vec::new()));
        };
        let mut here = path.clone();
        here.extend(scope.iter().cloned());
        match first {
            "crate" | "$crate" => return Some((krate, Vec::new())),
            "self" => return Some((krate, here)),
            "super" => {
                here.pop();
                return Some((krate, here));
            }
            _ => {}
        }
        if let Some(root) = library.filter(|root| *root != krate) {
            return Some((root, Vec::new()));
        }
        // A child of the current module or, inside inline modules, of an enclosing module of
        // this file (reached from there through `use super::*`).
        for depth in (path.len()..=here.len()).rev() {
            let mut child = here[..depth].to_vec();
            child.push(first.to_owned());
            if self.modules.contains_key(&(krate, child.clone())) {
                return Some((krate, child));
            }
        }
        aliases.get(first).cloned()
    }

    /// Where `segments`, written in `file` within inline `scope`, lead.
    pub(super) fn resolve(
        &self,
        file: usize,
        scope: &[String],
        segments: &[String],
        aliases: &HashMap<String, Module>,
    ) -> Option<Target> {
        let (first, rest) = segments.split_first()?;
        let mut module = self.start(file, scope, first, aliases)?;
        let mut complete = true;
        for segment in rest {
            match segment.as_str() {
                "super" => {
                    module.1.pop();
                }
                "self" => {}
                name => {
                    let mut child = module.1.clone();
                    child.push(name.to_owned());
                    let child = (module.0, child);
                    if !self.modules.contains_key(&child) {
                        complete = false;
                        break;
                    }
                    module = child;
                }
            }
        }
        let file = self.file_of(&module)?;
        Some(Target {
            module,
            file,
            complete,
        })
    }

    /// The modules `file`'s `use` declarations bring into scope by name (`use crate::a;`,
    /// `use crate::{a::b as c}`), each resolved through the others where needed.
    fn aliases(&self, file: usize, syntax: &Syntax) -> HashMap<String, Module> {
        let mut aliases = HashMap::new();
        // An alias can be defined through another (`use crate::a; use a::b;`): a few rounds.
        for _ in 0..8 {
            let mut changed = false;
            for path in &syntax.paths {
                let Kind::Use {
                    binds: Some(name), ..
                } = &path.kind
                else {
                    continue;
                };
                let target = self.resolve(file, &path.scope, &path.segments, &aliases);
                if let Some(target) = target.filter(|t| t.complete)
                    && aliases.get(name) != Some(&target.module)
                {
                    aliases.insert(name.clone(), target.module);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        aliases
    }

    /// Whether `module` is a strict descendant of `file`'s module, in the same crate.
    fn is_descendant(&self, file: usize, (krate, path): &Module) -> bool {
        self.places[file]
            .as_ref()
            .is_some_and(|(k, p)| k == krate && path.len() > p.len() && path.starts_with(p))
    }

    /// The files `file` depends on, each with the line of one reference (self-edges and
    /// re-exports of `file`'s own descendants left out).
    pub(super) fn edges(&self, file: usize, syntax: &Syntax) -> Vec<(usize, usize)> {
        let aliases = self.aliases(file, syntax);
        syntax
            .paths
            .iter()
            .filter_map(|path| {
                let target = self.resolve(file, &path.scope, &path.segments, &aliases)?;
                let public_use = matches!(path.kind, Kind::Use { public: true, .. });
                let reexport = public_use && self.is_descendant(file, &target.module);
                (target.file != file && !reexport).then_some((target.file, path.line))
            })
            .collect()
    }
}
