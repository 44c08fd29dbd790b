//! The binding's operations: request metadata in, response out.
//!
//! | operation | request metadata        | response                                                     |
//! |-----------|-------------------------|--------------------------------------------------------------|
//! | `create`  | `fileName` (optional)   | `{"fileName":"<name>"}` (JSON) and metadata `fileName`       |
//! | `get`     | `fileName` (required)   | the file's bytes; a missing file is `not-found`              |
//! | `list`    | —                       | JSON array of the file names in the root, sorted             |
//! | `delete`  | `fileName` (required)   | empty; a missing file is `not-found`                         |
//!
//! `create` writes the request data as is (Dapr's binding also tries to unquote and
//! base64-decode it; this one never rewrites data). Without `fileName` it picks a fresh
//! random name (an empty `fileName` counts as absent for `create` only).

use crate::Error;
use crate::exports::wasmplug::dapr::output_binding::{InvokeRequest, InvokeResponse};
use crate::storage::Storage;

/// The operations `invoke` accepts, in the order `list-operations` reports them.
pub const OPERATIONS: [&str; 4] = ["create", "get", "list", "delete"];

/// Request metadata key naming the file.
pub const FILE_NAME: &str = "fileName";

const JSON: &str = "application/json";

/// Run one operation against `storage`.
pub fn invoke(storage: &Storage, request: InvokeRequest) -> Result<InvokeResponse, Error> {
    let file_name = request_metadata(&request.metadata, FILE_NAME);
    match request.operation.as_str() {
        "create" => {
            // An empty fileName means "pick one", as in Dapr.
            let name = storage.create(file_name.filter(|n| !n.is_empty()), &request.data)?;
            Ok(InvokeResponse {
                data: format!("{{\"fileName\":{}}}", json_string(&name)).into_bytes(),
                metadata: vec![(FILE_NAME.to_owned(), name)],
                content_type: Some(JSON.to_owned()),
            })
        }
        "get" => Ok(response(storage.get(required(file_name)?)?, None)),
        "list" => {
            let names: Vec<String> = storage.list()?.iter().map(|n| json_string(n)).collect();
            Ok(response(
                format!("[{}]", names.join(",")).into_bytes(),
                Some(JSON),
            ))
        }
        "delete" => {
            storage.delete(required(file_name)?)?;
            Ok(response(Vec::new(), None))
        }
        other => Err(Error::Unimplemented(format!(
            "operation {other:?} is not supported by the local storage binding (supported: {})",
            OPERATIONS.join(", ")
        ))),
    }
}

fn response(data: Vec<u8>, content_type: Option<&str>) -> InvokeResponse {
    InvokeResponse {
        data,
        metadata: Vec::new(),
        content_type: content_type.map(str::to_owned),
    }
}

/// The value of request metadata `key` (an exact match, like Dapr's map lookup).
fn request_metadata<'a>(metadata: &'a [(String, String)], key: &str) -> Option<&'a str> {
    metadata
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn required(file_name: Option<&str>) -> Result<&str, Error> {
    file_name
        .ok_or_else(|| Error::InvalidArgument(format!("request metadata {FILE_NAME} is required")))
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::tests::TempDir;

    fn request(operation: &str, data: &[u8], metadata: &[(&str, &str)]) -> InvokeRequest {
        InvokeRequest {
            operation: operation.to_owned(),
            data: data.to_vec(),
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("plain"), "\"plain\"");
        assert_eq!(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(json_string("\n\t\u{1}é"), "\"\\n\\t\\u0001é\"");
    }

    #[test]
    fn operations_end_to_end() {
        let dir = TempDir::new("ops");
        let storage = dir.storage();

        let created = invoke(
            &storage,
            request("create", b"payload", &[("fileName", "my \"file\"")]),
        )
        .unwrap();
        assert_eq!(created.data, br#"{"fileName":"my \"file\""}"#);
        assert_eq!(created.content_type.as_deref(), Some(JSON));
        assert_eq!(
            created.metadata,
            vec![("fileName".to_owned(), "my \"file\"".to_owned())]
        );

        let fresh = invoke(&storage, request("create", b"other", &[])).unwrap();
        let fresh_name = fresh.metadata[0].1.clone();
        assert_eq!(fresh_name.len(), 32);
        assert_eq!(
            fresh.data,
            format!("{{\"fileName\":\"{fresh_name}\"}}").into_bytes()
        );

        let got = invoke(
            &storage,
            request("get", b"", &[("fileName", "my \"file\"")]),
        )
        .unwrap();
        assert_eq!(got.data, b"payload");
        assert_eq!(got.content_type, None);

        let listed = invoke(&storage, request("list", b"", &[])).unwrap();
        let mut want = [json_string("my \"file\""), json_string(&fresh_name)];
        want.sort();
        assert_eq!(listed.data, format!("[{}]", want.join(",")).into_bytes());
        assert_eq!(listed.content_type.as_deref(), Some(JSON));

        let deleted = invoke(
            &storage,
            request("delete", b"", &[("fileName", &fresh_name)]),
        )
        .unwrap();
        assert!(deleted.data.is_empty());
        assert!(matches!(
            invoke(&storage, request("get", b"", &[("fileName", &fresh_name)])),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            invoke(
                &storage,
                request("delete", b"", &[("fileName", &fresh_name)])
            ),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn empty_file_name_means_generated_for_create_only() {
        let dir = TempDir::new("emptyname");
        let storage = dir.storage();
        let created = invoke(&storage, request("create", b"x", &[("fileName", "")])).unwrap();
        assert_eq!(created.metadata[0].1.len(), 32);
        for op in ["get", "delete"] {
            assert!(
                matches!(
                    invoke(&storage, request(op, b"", &[("fileName", "")])),
                    Err(Error::InvalidArgument(_))
                ),
                "{op}"
            );
        }
    }

    #[test]
    fn empty_list_is_an_empty_array() {
        let dir = TempDir::new("emptylist");
        let listed = invoke(&dir.storage(), request("list", b"", &[])).unwrap();
        assert_eq!(listed.data, b"[]");
    }

    #[test]
    fn file_name_is_required_for_get_and_delete() {
        let dir = TempDir::new("required");
        let storage = dir.storage();
        for op in ["get", "delete"] {
            match invoke(&storage, request(op, b"", &[("filename", "x")])) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains("fileName"), "{msg}"),
                other => panic!("{op}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn escaping_names_are_invalid_for_every_operation() {
        let dir = TempDir::new("opsescape");
        let storage = dir.storage();
        for op in ["create", "get", "delete"] {
            for name in ["../x", "/etc/passwd", "..", "a/b"] {
                assert!(
                    matches!(
                        invoke(&storage, request(op, b"x", &[("fileName", name)])),
                        Err(Error::InvalidArgument(_))
                    ),
                    "{op} {name:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_operations_are_unimplemented() {
        let dir = TempDir::new("unknown");
        match invoke(&dir.storage(), request("Create", b"", &[])) {
            Err(Error::Unimplemented(msg)) => assert!(msg.contains("\"Create\""), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
