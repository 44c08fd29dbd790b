//! JavaScript templates: an ES module turned into a component by componentize-js
//! (StarlingMonkey), installed pinned into the shared toolchains folder by `build.sh`.

use super::file::File;

/// A state store over a granted host bucket: etags are the bucket's entry versions, writes
/// go through one atomic `keyvalue-atomics.commit`.
pub(super) const STATE: &[File] = &[
    File::text(
        "package.json",
        include_str!("javascript/state_package.json.tmpl"),
    ),
    File::text("world.wit", include_str!("javascript/state_world.wit.tmpl")),
    File::text(
        "src/index.js",
        include_str!("javascript/state_index.js.tmpl"),
    ),
    BUILD_MJS,
    GITIGNORE,
    BUILD_SH,
    TOOLCHAIN_PACKAGE,
    TOOLCHAIN_LOCK,
    TOOLCHAIN_INDEX,
];

/// An output binding (`echo`, `upper`).
pub(super) const BINDINGS: &[File] = &[
    File::text("package.json", include_str!("javascript/package.json.tmpl")),
    File::text("world.wit", include_str!("javascript/world.wit.tmpl")),
    File::text("src/index.js", include_str!("javascript/index.js.tmpl")),
    BUILD_MJS,
    GITIGNORE,
    BUILD_SH,
    TOOLCHAIN_PACKAGE,
    TOOLCHAIN_LOCK,
    TOOLCHAIN_INDEX,
];

// The build and toolchain files, the same for every block.
const BUILD_MJS: File = File::text("build.mjs", include_str!("javascript/build.mjs.tmpl"));
const GITIGNORE: File = File::text(".gitignore", include_str!("javascript/gitignore.tmpl"));
const BUILD_SH: File = File::script("build.sh", include_str!("javascript/build.sh.tmpl"));
// The pinned toolchain, copied by build.sh into `<toolchains>/js`. The lock file is the
// repository's own JavaScript toolchain lock (guests/js), so generated projects build with
// exactly the componentize-js the repository tests; toolchain/package.json.tmpl must pin
// the same versions as guests/js/package.json (checked by the test below).
const TOOLCHAIN_PACKAGE: File = File::text(
    "toolchain/package.json",
    include_str!("javascript/toolchain/package.json.tmpl"),
);
const TOOLCHAIN_LOCK: File = File::text(
    "toolchain/package-lock.json",
    include_str!("../../../../../guests/js/package-lock.json"),
);
const TOOLCHAIN_INDEX: File = File::text(
    "toolchain/index.mjs",
    include_str!("javascript/toolchain/index.mjs.tmpl"),
);

#[cfg(test)]
mod tests {
    /// The toolchain manifest pins what the lock file (guests/js's) was made from.
    #[test]
    fn toolchain_pins_match_the_guests_lock() {
        let guests = include_str!("../../../../../guests/js/package.json");
        let ours = include_str!("javascript/toolchain/package.json.tmpl");
        let pins = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| l.starts_with("\"@bytecodealliance/"))
                .map(|l| l.trim_end_matches(',').to_owned())
                .collect()
        };
        assert!(!pins(guests).is_empty());
        assert_eq!(pins(guests), pins(ours));
    }
}
