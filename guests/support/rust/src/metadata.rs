//! Looking up keys in Dapr metadata (`wasmplug:dapr/types.metadata`: ordered pairs).

/// The value of `key`. Dapr metadata is a map, so a repeated key is not expected; if it
/// happens, the last occurrence wins, as it would when building a map from the pairs.
pub fn value<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The value of the first occurrence of `key` (for guests that have always read it so).
pub fn first_value<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// [`value`], with an empty value counting as absent.
pub fn non_empty<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    value(metadata, key).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pairs;

    #[test]
    fn lookups() {
        let md = pairs(&[("a", "1"), ("b", ""), ("a", "2")]);
        assert_eq!(value(&md, "a"), Some("2"), "last occurrence wins");
        assert_eq!(first_value(&md, "a"), Some("1"));
        assert_eq!(value(&md, "b"), Some(""));
        assert_eq!(non_empty(&md, "b"), None);
        assert_eq!(non_empty(&md, "a"), Some("2"));
        assert_eq!(value(&md, "c"), None);
        assert_eq!(first_value(&md, "c"), None);
        assert_eq!(value(&[], "a"), None);
        assert_eq!(value(&md, "A"), None, "keys are case-sensitive");
    }
}
