//! One file of a generated project.

/// One file of a template: where it goes, its text (with `{{name}}` / `{{lib}}` placeholders)
/// and whether it is a script.
pub(super) struct File {
    pub(super) path: &'static str,
    pub(super) template: &'static str,
    pub(super) executable: bool,
}

impl File {
    /// A file written as is (after placeholders).
    pub(super) const fn text(path: &'static str, template: &'static str) -> Self {
        File {
            path,
            template,
            executable: false,
        }
    }

    /// A script: written with mode 0755.
    pub(super) const fn script(path: &'static str, template: &'static str) -> Self {
        File {
            path,
            template,
            executable: true,
        }
    }
}
