//! File names: validation of the names a caller supplies, and generation of fresh ones.
//!
//! The binding's namespace is flat: a name is a single path component directly inside the
//! root directory, so nothing a caller passes can address a file elsewhere.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The longest name accepted, in bytes (`NAME_MAX` on common file systems).
pub const MAX_NAME_LEN: usize = 255;

/// Check that `name` is a plain file name: non-empty, at most [`MAX_NAME_LEN`] bytes, not
/// `.` or `..`, and free of `/` (so not absolute and without directory components), `\` and
/// NUL. Anything else is `invalid-argument`.
pub fn validate(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name == "." || name == ".." {
        "must not be \".\" or \"..\""
    } else if name.contains('/') {
        "must not contain '/' (names are flat: no directories, no absolute paths)"
    } else if name.contains('\\') {
        "must not contain '\\'"
    } else if name.contains('\0') {
        "must not contain NUL"
    } else if name.len() > MAX_NAME_LEN {
        "is too long"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument(format!(
        "invalid fileName {name:?}: {reason}"
    )))
}

/// A fresh random file name: 32 lowercase hex digits (128 bits).
///
/// The bits come from std's `RandomState`, whose keys are seeded from the platform's random
/// source (on wasm32-wasip2: `wasi:random`); hashing a process-wide counter and the clock
/// with them gives unpredictable, non-repeating output without a random-number dependency.
pub fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let half = |salt: u8| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(salt);
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(0), half(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(name: &str) -> bool {
        matches!(validate(name), Err(Error::InvalidArgument(_)))
    }

    #[test]
    fn accepts_plain_names() {
        for name in [
            "a",
            "file.txt",
            "...",
            ".hidden",
            "..x",
            "x..",
            "with space",
            "ünïcödé",
            "a:b",
            &"n".repeat(MAX_NAME_LEN),
        ] {
            assert!(validate(name).is_ok(), "{name:?} should be accepted");
        }
    }

    #[test]
    fn rejects_escape_attempts() {
        for name in [
            "",
            ".",
            "..",
            "/",
            "/etc/passwd",
            "../secret",
            "../../etc/passwd",
            "a/../../b",
            "dir/file",
            "dir/",
            "./file",
            "file/.",
            "..\\secret",
            "dir\\file",
            "C:\\Windows",
            "nul\0byte",
            "\0",
            "//double",
            &"n".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(rejected(name), "{name:?} should be rejected");
        }
    }

    #[test]
    fn rejection_names_the_file() {
        match validate("../x") {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("\"../x\""), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn generated_names_are_unique_hex() {
        let names: Vec<String> = (0..100).map(|_| generate()).collect();
        for name in &names {
            assert_eq!(name.len(), 32, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(validate(name).is_ok());
        }
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
