//! Init metadata on the wire: every block's `Init` request carries an optional
//! `MetadataRequest { properties }`; these two functions are the one place it is read and
//! written.

use crate::blocks::Metadata;
use crate::proto as pb;

/// The properties of an `Init` request (none is empty).
pub fn from_init(m: Option<pb::MetadataRequest>) -> Metadata {
    m.map(|m| m.properties.into_iter().collect())
        .unwrap_or_default()
}

/// `metadata` as the `metadata` field of an `Init` request.
pub fn to_init(metadata: Metadata) -> Option<pb::MetadataRequest> {
    Some(pb::MetadataRequest {
        properties: metadata.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_metadata_round_trips_and_none_is_empty() {
        let m = Metadata::from([("a".into(), "1".into()), ("b".into(), String::new())]);
        assert_eq!(from_init(to_init(m.clone())), m);
        assert!(from_init(None).is_empty());
    }
}
