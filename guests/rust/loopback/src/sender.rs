//! The output side: `send` appends the request to the queue.

use wasmplug_guest::kv::Backend;
use wasmplug_guest::metadata;

use crate::Error;
use crate::exports::wasmplug::dapr::output_binding::{InvokeRequest, InvokeResponse};
use crate::queue;
use crate::record::{self, Record};

/// The only operation.
pub const SEND: &str = "send";
/// Request metadata key whose value becomes the event's content type.
pub const CONTENT_TYPE_METADATA: &str = "contentType";
/// Content type of the `send` response.
pub const JSON: &str = "application/json";

/// `list-operations`.
pub fn operations() -> Vec<String> {
    vec![SEND.to_owned()]
}

/// `invoke`.
pub fn invoke(backend: &impl Backend, request: InvokeRequest) -> Result<InvokeResponse, Error> {
    if request.operation != SEND {
        return Err(Error::Unimplemented(format!(
            "operation {:?} is not supported by the loopback binding (supported: {SEND})",
            request.operation
        )));
    }
    let sequence = send(backend, request.data, request.metadata)?;
    Ok(InvokeResponse {
        data: format!("{{\"sequence\":{sequence}}}").into_bytes(),
        metadata: Vec::new(),
        content_type: Some(JSON.to_owned()),
    })
}

/// Queue one message and return its sequence number.
fn send(
    backend: &impl Backend,
    data: Vec<u8>,
    metadata: Vec<(String, String)>,
) -> Result<u64, Error> {
    // The last one wins, like a map built from the list; an empty value means none.
    let content_type = metadata::non_empty(&metadata, CONTENT_TYPE_METADATA).map(str::to_owned);
    let record = Record {
        content_type,
        metadata,
        data,
    };
    let too_large = || {
        Error::InvalidArgument(format!(
            "the message with its metadata exceeds the {}-byte limit",
            queue::MAX_RECORD_LEN
        ))
    };
    if record
        .encoded_len()
        .is_none_or(|len| len > queue::MAX_RECORD_LEN)
    {
        return Err(too_large());
    }
    let encoded = record::encode(&record).ok_or_else(too_large)?;
    queue::append(backend, encoded)
}

#[cfg(test)]
mod tests {
    use wasmplug_guest::testing::FakeBucket as Fake;

    use super::*;

    fn request(operation: &str, data: &str, metadata: &[(&str, &str)]) -> InvokeRequest {
        InvokeRequest {
            operation: operation.to_owned(),
            data: data.as_bytes().to_vec(),
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn lists_send() {
        assert_eq!(operations(), ["send"]);
    }

    #[test]
    fn send_answers_with_the_sequence_as_json() {
        let fake = Fake::default();
        for n in 1..=3 {
            let response = invoke(&fake, request("send", "x", &[])).unwrap();
            assert_eq!(
                String::from_utf8(response.data).unwrap(),
                format!("{{\"sequence\":{n}}}")
            );
            assert_eq!(response.content_type.as_deref(), Some("application/json"));
            assert!(response.metadata.is_empty());
        }
        assert_eq!(fake.keys_with_prefix("m/").len(), 3);
    }

    #[test]
    fn stores_data_metadata_and_content_type() {
        let fake = Fake::default();
        let md = [
            ("a", "1"),
            ("contentType", "text/x"),
            ("contentType", "text/y"),
        ];
        invoke(&fake, request("send", "hello", &md)).unwrap();
        invoke(&fake, request("send", "", &[("contentType", "")])).unwrap();
        let taken = queue::take(&fake, 10).unwrap();
        let first = record::decode(taken[0].1.clone()).unwrap();
        assert_eq!(first.data, b"hello");
        assert_eq!(first.content_type.as_deref(), Some("text/y"));
        assert_eq!(first.metadata.len(), 3);
        let second = record::decode(taken[1].1.clone()).unwrap();
        assert_eq!(second.content_type, None);
        assert!(second.data.is_empty());
    }

    #[test]
    fn unknown_operations_are_unimplemented() {
        let fake = Fake::default();
        for op in ["create", "", "Send"] {
            match invoke(&fake, request(op, "x", &[])) {
                Err(Error::Unimplemented(msg)) => assert!(msg.contains("send"), "{msg}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(fake.commits(), 0);
    }

    #[test]
    fn oversized_messages_are_invalid() {
        let fake = Fake::default();
        let mut req = request("send", "", &[("k", "v")]);
        req.data = vec![0; queue::MAX_RECORD_LEN];
        assert!(matches!(invoke(&fake, req), Err(Error::InvalidArgument(_))));
        assert_eq!(fake.commits(), 0);
    }
}
