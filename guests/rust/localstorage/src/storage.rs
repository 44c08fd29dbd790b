//! Files directly inside the root directory.
//!
//! Every operation takes a caller-supplied name, validates it with [`names::validate`] (so
//! the path is always `root/<one component>`), and refuses to act on a symlink or a
//! directory: the path is inspected with `symlink_metadata`, which does not follow links.
//! The check and the access are separate steps, so this is not a defence against a
//! concurrent process swapping in a symlink; the host's WASI sandbox, which confines the
//! component to the granted directory, is the real boundary.

use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::names;

/// How many fresh names `create` tries before giving up (a collision of 128-bit random
/// names means something is badly wrong).
const GENERATE_ATTEMPTS: usize = 4;

/// The root directory of the binding.
#[derive(Debug)]
pub struct Storage {
    root: PathBuf,
}

/// What a name currently refers to.
enum Entry {
    Missing,
    File,
}

impl Storage {
    /// Open `root`, which must be an existing directory (a symlink to one is fine: the root
    /// is chosen by the operator, not by callers).
    pub fn open(root: &str) -> Result<Self, Error> {
        if root.is_empty() {
            return Err(Error::InvalidArgument(
                "metadata rootPath must not be empty".to_owned(),
            ));
        }
        let storage = Storage {
            root: PathBuf::from(root),
        };
        storage.check_root()?;
        Ok(storage)
    }

    /// Fail unless the root is (still) an existing directory.
    pub fn check_root(&self) -> Result<(), Error> {
        match fs::metadata(&self.root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Error::Other(format!(
                "rootPath {:?} is not a directory",
                self.root
            ))),
            Err(err) => Err(Error::Other(format!(
                "rootPath {:?} is not an existing directory: {err}",
                self.root
            ))),
        }
    }

    /// The path of the validated `name`.
    fn path(&self, name: &str) -> Result<PathBuf, Error> {
        names::validate(name)?;
        Ok(self.root.join(name))
    }

    /// What `path` (named `name` in errors) is; symlinks and non-files are
    /// `invalid-argument`.
    fn inspect(path: &Path, name: &str) -> Result<Entry, Error> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => Err(Error::InvalidArgument(format!(
                "fileName {name:?} is a symlink"
            ))),
            Ok(meta) if meta.is_file() => Ok(Entry::File),
            Ok(meta) if meta.is_dir() => Err(Error::InvalidArgument(format!(
                "fileName {name:?} is a directory"
            ))),
            Ok(_) => Err(Error::InvalidArgument(format!(
                "fileName {name:?} is not a regular file"
            ))),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(Entry::Missing),
            Err(err) => Err(io_error("inspect", name, &err)),
        }
    }

    /// Write `data` to `name` (creating or overwriting it), or to a fresh random name when
    /// `name` is `None`. Returns the name written.
    pub fn create(&self, name: Option<&str>, data: &[u8]) -> Result<String, Error> {
        match name {
            Some(name) => {
                let path = self.path(name)?;
                Self::inspect(&path, name)?;
                fs::write(&path, data).map_err(|err| io_error("write", name, &err))?;
                Ok(name.to_owned())
            }
            None => self.create_fresh(data),
        }
    }

    /// Write `data` under a newly generated name that did not exist before.
    fn create_fresh(&self, data: &[u8]) -> Result<String, Error> {
        for _ in 0..GENERATE_ATTEMPTS {
            let name = names::generate();
            let path = self.path(&name)?;
            // `create_new` fails rather than follow or clobber anything already there.
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(data)
                        .and_then(|()| file.flush())
                        .map_err(|err| io_error("write", &name, &err))?;
                    return Ok(name);
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(io_error("create", &name, &err)),
            }
        }
        Err(Error::Other(
            "could not generate an unused file name".to_owned(),
        ))
    }

    /// The contents of `name`; a missing file is `not-found`.
    pub fn get(&self, name: &str) -> Result<Vec<u8>, Error> {
        let path = self.path(name)?;
        match Self::inspect(&path, name)? {
            Entry::Missing => Err(not_found(name)),
            Entry::File => fs::read(&path).map_err(|err| io_error("read", name, &err)),
        }
    }

    /// The names of the regular files directly inside the root, sorted. Directories,
    /// symlinks, other special files and names that are not valid UTF-8 (which no request
    /// could address) are left out.
    pub fn list(&self) -> Result<Vec<String>, Error> {
        let read_err =
            |err: io::Error| Error::Other(format!("cannot list rootPath {:?}: {err}", self.root));
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            // `DirEntry::file_type` does not follow symlinks.
            if !entry.file_type().map_err(read_err)?.is_file() {
                continue;
            }
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Delete `name`; a missing file is `not-found`.
    pub fn delete(&self, name: &str) -> Result<(), Error> {
        let path = self.path(name)?;
        match Self::inspect(&path, name)? {
            Entry::Missing => Err(not_found(name)),
            Entry::File => fs::remove_file(&path).map_err(|err| match err.kind() {
                ErrorKind::NotFound => not_found(name),
                _ => io_error("delete", name, &err),
            }),
        }
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("file {name:?} not found"))
}

fn io_error(action: &str, name: &str, err: &io::Error) -> Error {
    if err.kind() == ErrorKind::NotFound {
        return not_found(name);
    }
    Error::Other(format!("cannot {action} file {name:?}: {err}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "wasmplug-localstorage-{tag}-{}-{}",
                std::process::id(),
                names::generate()
            ));
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub fn storage(&self) -> Storage {
            Storage::open(self.0.to_str().unwrap()).unwrap()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn open_requires_an_existing_directory() {
        let dir = TempDir::new("open");
        assert!(matches!(Storage::open(""), Err(Error::InvalidArgument(_))));
        let missing = dir.0.join("missing");
        match Storage::open(missing.to_str().unwrap()) {
            Err(Error::Other(msg)) => assert!(msg.contains("missing"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        let file = dir.0.join("file");
        fs::write(&file, b"x").unwrap();
        match Storage::open(file.to_str().unwrap()) {
            Err(Error::Other(msg)) => assert!(msg.contains("not a directory"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(dir.storage().check_root().is_ok());
    }

    #[test]
    fn create_get_list_delete_round_trip() {
        let dir = TempDir::new("crud");
        let storage = dir.storage();
        assert_eq!(storage.list().unwrap(), Vec::<String>::new());

        assert_eq!(storage.create(Some("b.txt"), b"hello").unwrap(), "b.txt");
        assert_eq!(storage.get("b.txt").unwrap(), b"hello");
        assert_eq!(fs::read(dir.0.join("b.txt")).unwrap(), b"hello");

        // Overwrite, with shorter data.
        storage.create(Some("b.txt"), b"hi").unwrap();
        assert_eq!(storage.get("b.txt").unwrap(), b"hi");

        // Empty data is a valid file.
        storage.create(Some("a"), b"").unwrap();
        assert_eq!(storage.get("a").unwrap(), b"");

        let fresh = storage.create(None, b"\x00\xffbinary").unwrap();
        assert_eq!(fresh.len(), 32);
        assert_eq!(storage.get(&fresh).unwrap(), b"\x00\xffbinary");

        // Directories are not listed.
        fs::create_dir(dir.0.join("subdir")).unwrap();
        fs::write(dir.0.join("subdir").join("inner"), b"x").unwrap();
        let mut want = vec!["a".to_owned(), "b.txt".to_owned(), fresh.clone()];
        want.sort();
        assert_eq!(storage.list().unwrap(), want);

        storage.delete("b.txt").unwrap();
        assert!(matches!(storage.get("b.txt"), Err(Error::NotFound(_))));
        assert!(matches!(storage.delete("b.txt"), Err(Error::NotFound(_))));
        assert!(!dir.0.join("b.txt").exists());
        storage.delete(&fresh).unwrap();
        assert_eq!(storage.list().unwrap(), vec!["a".to_owned()]);
    }

    #[test]
    fn missing_files_are_not_found() {
        let dir = TempDir::new("missing");
        let storage = dir.storage();
        match storage.get("nope") {
            Err(Error::NotFound(msg)) => assert!(msg.contains("\"nope\""), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(storage.delete("nope"), Err(Error::NotFound(_))));
    }

    #[test]
    fn invalid_names_never_touch_the_file_system() {
        let outer = TempDir::new("escape");
        let root = outer.0.join("root");
        fs::create_dir(&root).unwrap();
        fs::write(outer.0.join("outside"), b"secret").unwrap();
        fs::create_dir(root.join("sub")).unwrap();
        let storage = Storage::open(root.to_str().unwrap()).unwrap();
        let outside = outer.0.join("outside");
        let absolute = outside.to_str().unwrap();
        for name in [
            "../outside",
            absolute,
            "sub/../../outside",
            "sub/x",
            "..",
            ".",
            "",
            "a\\b",
            "a\0b",
        ] {
            let invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidArgument(_)));
            assert!(invalid(storage.get(name).map(drop)), "get {name:?}");
            assert!(
                invalid(storage.create(Some(name), b"pwned").map(drop)),
                "create {name:?}"
            );
            assert!(invalid(storage.delete(name)), "delete {name:?}");
        }
        assert_eq!(fs::read(&outside).unwrap(), b"secret");
        assert!(!root.join("sub").join("x").exists());
        assert_eq!(storage.list().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn directories_are_refused() {
        let dir = TempDir::new("dirs");
        fs::create_dir(dir.0.join("d")).unwrap();
        let storage = dir.storage();
        assert!(matches!(storage.get("d"), Err(Error::InvalidArgument(_))));
        assert!(matches!(
            storage.create(Some("d"), b"x"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            storage.delete("d"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(dir.0.join("d").is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        use std::os::unix::fs::symlink;

        let outer = TempDir::new("symlink");
        let root = outer.0.join("root");
        fs::create_dir(&root).unwrap();
        let target = outer.0.join("target");
        fs::write(&target, b"secret").unwrap();
        symlink(&target, root.join("link")).unwrap();
        symlink(outer.0.join("nowhere"), root.join("dangling")).unwrap();
        symlink(&outer.0, root.join("dirlink")).unwrap();
        let storage = Storage::open(root.to_str().unwrap()).unwrap();

        for name in ["link", "dangling", "dirlink"] {
            match storage.get(name) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains("symlink"), "{msg}"),
                other => panic!("get {name}: unexpected {other:?}"),
            }
            assert!(
                matches!(
                    storage.create(Some(name), b"pwned"),
                    Err(Error::InvalidArgument(_))
                ),
                "create {name}"
            );
            assert!(
                matches!(storage.delete(name), Err(Error::InvalidArgument(_))),
                "delete {name}"
            );
        }
        assert_eq!(fs::read(&target).unwrap(), b"secret");
        assert!(!outer.0.join("nowhere").exists());
        assert!(root.join("link").symlink_metadata().is_ok());
        // Symlinks are not listed either.
        assert_eq!(storage.list().unwrap(), Vec::<String>::new());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_root_is_allowed() {
        let outer = TempDir::new("rootlink");
        let real = outer.0.join("real");
        fs::create_dir(&real).unwrap();
        let link = outer.0.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let storage = Storage::open(link.to_str().unwrap()).unwrap();
        storage.create(Some("f"), b"x").unwrap();
        assert_eq!(fs::read(real.join("f")).unwrap(), b"x");
    }
}
