//! Component names: read from each entry before the rest of it, so every later error can
//! say which component it is in; valid as a socket file name and a daprd component type;
//! unique in the file.

use std::collections::BTreeSet;

use super::error::Invalid;

/// Longest component name: it becomes a socket file name and part of a daprd type.
const MAX_NAME_LEN: usize = 63;

/// The `name` of entry `i`, read before anything else in it.
pub(super) fn component_name(entry: &serde_norway::Value, i: usize) -> Result<String, Invalid> {
    match entry.get("name") {
        Some(serde_norway::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Invalid::new(
            format!("components[{i}].name"),
            "must be a string",
        )),
        None => Err(Invalid::new(
            format!("components[{i}]"),
            "missing key `name`",
        )),
    }
}

/// A valid name ([`validate_name`]) not already in `seen`; adds it.
pub(super) fn check_name(name: &str, seen: &mut BTreeSet<String>) -> Result<(), Invalid> {
    validate_name(name).map_err(|message| Invalid::new("name", message))?;
    if !seen.insert(name.to_owned()) {
        return Err(Invalid::new("name", "duplicate component name"));
    }
    Ok(())
}

/// Names become socket file names and daprd component types: keep them to what both accept.
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("must be 1 to {MAX_NAME_LEN} characters"));
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    let starts_well = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if !(name.bytes().all(allowed) && starts_well) {
        return Err(format!(
            "{name:?} is not a valid name: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::{HEAD, entry, entry_error, error, file_error};

    /// Component `s` as a whole `components:` section.
    const S: &str = "components:\n  - name: s\n    type: state\n    wasm: a.wasm\n";

    #[test]
    fn each_component_needs_a_string_name_first() {
        let e = file_error(&format!("{HEAD}components:\n  - just-a-string\n"));
        assert_eq!(e, error(None, Some("components[0]"), "missing key `name`"));
        let e = file_error(&format!("{HEAD}{S}  - type: state\n    wasm: b.wasm\n"));
        assert_eq!(e, error(None, Some("components[1]"), "missing key `name`"));
        let e = entry_error("name: 5\ntype: state\nwasm: a.wasm");
        assert_eq!(
            e,
            error(None, Some("components[0].name"), "must be a string")
        );
        // The name is checked before the rest of the entry, so the error can name it.
        let e = entry_error("name: s\nwasm: a.wasm\nextra: 1");
        assert_eq!(e.component.as_deref(), Some("s"));
    }

    #[test]
    fn duplicate_component_name_is_rejected_at_the_second() {
        let e = file_error(&format!(
            "{HEAD}{S}  - name: s\n    type: pubsub\n    wasm: b.wasm\n"
        ));
        assert_eq!(
            e.to_string(),
            "/cfg/wasmplug.yaml: component \"s\": key `name`: duplicate component name"
        );
    }

    #[test]
    fn names_are_1_to_63_characters() {
        let long = "a".repeat(63);
        assert_eq!(validate_name(&long), Ok(()));
        let too_long = "a".repeat(64);
        assert_eq!(
            validate_name(&too_long),
            Err("must be 1 to 63 characters".into())
        );
        assert_eq!(validate_name(""), Err("must be 1 to 63 characters".into()));
        let e = entry_error("name: \"\"\ntype: state\nwasm: a.wasm");
        assert_eq!(
            e,
            error(Some(""), Some("name"), "must be 1 to 63 characters")
        );
    }

    #[test]
    fn names_are_lowercase_digits_dash_underscore_starting_alphanumeric() {
        for ok in ["a", "1a", "a-b_c9", "9"] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
        for bad in ["Abc", "-a", "_a", "a.b", "../x", "é", "a b"] {
            assert_eq!(
                validate_name(bad),
                Err(format!(
                    "{bad:?} is not a valid name: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
                )),
                "{bad}"
            );
        }
        let e = entry_error("name: ../x\ntype: state\nwasm: a.wasm");
        assert_eq!(
            (e.component.as_deref(), e.key.as_deref()),
            (Some("../x"), Some("name"))
        );
        assert!(entry("name: a-b_c9\ntype: state\nwasm: a.wasm").is_ok());
    }
}
