//! Store semantics against an in-memory fake of the host's versioned bucket.

use wasmplug_guest::testing::{FakeBucket as Fake, pairs as md};

use super::*;
use crate::exports::wasmplug::dapr::state_store::{Consistency, StateOptions};

const NOW: u64 = 1_795_789_992_000; // 2026-11-27T14:33:12Z

fn options(concurrency: Concurrency) -> StateOptions {
    StateOptions {
        concurrency,
        consistency: Consistency::Unspecified,
    }
}

fn set_req(key: &str, value: &str) -> SetRequest {
    SetRequest {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
        etag: None,
        metadata: Vec::new(),
        options: options(Concurrency::Unspecified),
        content_type: None,
    }
}

fn with_etag(mut req: SetRequest, etag: &str) -> SetRequest {
    req.etag = Some(etag.to_owned());
    req
}

fn first_write(mut req: SetRequest) -> SetRequest {
    req.options = options(Concurrency::FirstWrite);
    req
}

fn with_meta(mut req: SetRequest, pairs: &[(&str, &str)]) -> SetRequest {
    req.metadata = md(pairs);
    req
}

fn del_req(key: &str, etag: Option<&str>) -> DeleteRequest {
    DeleteRequest {
        key: key.to_owned(),
        etag: etag.map(str::to_owned),
        metadata: Vec::new(),
        options: options(Concurrency::Unspecified),
    }
}

fn get_req(key: &str) -> GetRequest {
    GetRequest {
        key: key.to_owned(),
        metadata: Vec::new(),
        consistency: Consistency::Unspecified,
    }
}

fn set(fake: &Fake, req: SetRequest) -> Result<(), Error> {
    apply(fake, vec![Operation::Set(req)], &[], NOW)
}

fn delete(fake: &Fake, req: DeleteRequest) -> Result<(), Error> {
    apply(fake, vec![Operation::Delete(req)], &[], NOW)
}

fn get_at(fake: &Fake, key: &str, now: u64) -> Option<Item> {
    get(fake, key, now).expect("get")
}

fn data(fake: &Fake, key: &str) -> Option<String> {
    get_at(fake, key, NOW).map(|item| String::from_utf8(item.data).expect("utf8"))
}

fn etag(fake: &Fake, key: &str) -> String {
    get_at(fake, key, NOW)
        .and_then(|item| item.etag)
        .expect("etag")
}

#[track_caller]
fn assert_mismatch(result: Result<(), Error>) {
    assert!(
        matches!(result, Err(Error::EtagMismatch(_))),
        "expected etag-mismatch, got {result:?}"
    );
}

#[track_caller]
fn assert_invalid_argument(result: Result<(), Error>) {
    assert!(
        matches!(result, Err(Error::InvalidArgument(_))),
        "expected invalid-argument, got {result:?}"
    );
}

#[test]
fn set_get_round_trip_with_changing_etags() {
    let fake = Fake::default();
    assert!(get_at(&fake, "k", NOW).is_none());
    set(&fake, set_req("k", "\"v1\"")).expect("set");
    let item = get_at(&fake, "k", NOW).expect("item");
    assert_eq!(item.data, b"\"v1\"");
    assert_eq!(item.metadata, Vec::new());
    assert_eq!(item.content_type, None);
    let first = item.etag.expect("etag");
    assert!(!first.is_empty());

    set(&fake, set_req("k", "v2")).expect("set");
    let second = etag(&fake, "k");
    assert_ne!(first, second);
    set(&fake, set_req("k", "")).expect("empty value");
    assert_eq!(data(&fake, "k").as_deref(), Some(""));
}

#[test]
fn etag_checks() {
    let fake = Fake::default();
    set(&fake, set_req("k", "v1")).expect("set");
    let good = etag(&fake, "k");

    assert_mismatch(set(&fake, with_etag(set_req("k", "x"), "bad-etag")));
    assert_mismatch(set(&fake, with_etag(set_req("k", "x"), "999999")));
    assert_mismatch(set(&fake, with_etag(set_req("missing", "x"), &good)));
    assert_eq!(data(&fake, "k").as_deref(), Some("v1"));

    set(&fake, with_etag(set_req("k", "v2"), &good)).expect("matching etag");
    assert_eq!(data(&fake, "k").as_deref(), Some("v2"));
    assert_mismatch(set(&fake, with_etag(set_req("k", "v3"), &good)));
    assert_mismatch(set(
        &fake,
        first_write(with_etag(set_req("k", "v3"), &good)),
    ));
    let fresh = etag(&fake, "k");
    set(&fake, first_write(with_etag(set_req("k", "v3"), &fresh))).expect("first-write with etag");
    assert_eq!(data(&fake, "k").as_deref(), Some("v3"));
}

#[test]
fn first_write_is_create_only() {
    let fake = Fake::default();
    for empty_etag in [false, true] {
        let req = |value| {
            let req = first_write(set_req("k", value));
            if empty_etag { with_etag(req, "") } else { req }
        };
        delete(&fake, del_req("k", None)).expect("clean slate");
        set(&fake, req("v1")).expect("create");
        assert_mismatch(set(&fake, req("v2")));
        assert_eq!(data(&fake, "k").as_deref(), Some("v1"));
    }
    // last-write and unspecified overwrite unconditionally.
    let mut last = set_req("k", "v3");
    last.options = options(Concurrency::LastWrite);
    set(&fake, last).expect("last-write");
    set(&fake, with_etag(set_req("k", "v4"), "")).expect("empty etag means none");
    assert_eq!(data(&fake, "k").as_deref(), Some("v4"));
}

#[test]
fn ttl_sets_reports_and_expires() {
    let fake = Fake::default();
    set(
        &fake,
        with_meta(set_req("k", "v"), &[("ttlInSeconds", "2")]),
    )
    .expect("set");
    let item = get_at(&fake, "k", NOW + 1_999).expect("live");
    assert_eq!(
        item.metadata,
        md(&[("ttlExpireTime", "2026-11-27T14:33:14Z")])
    );

    assert!(get_at(&fake, "k", NOW + 2_000).is_none());
    assert!(!fake.contains("k"), "an expired entry is purged on read");
}

#[test]
fn ttl_is_cleared_by_minus_one_or_a_plain_set() {
    let fake = Fake::default();
    set(
        &fake,
        with_meta(set_req("k", "v"), &[("ttlInSeconds", "60")]),
    )
    .expect("set");
    set(
        &fake,
        with_meta(set_req("k", "v"), &[("ttlInSeconds", "-1")]),
    )
    .expect("clear");
    let item = get_at(&fake, "k", NOW + 3_600_000).expect("no longer expires");
    assert!(item.metadata.is_empty());

    set(
        &fake,
        with_meta(set_req("k", "v"), &[("ttlInSeconds", "60")]),
    )
    .expect("set");
    set(&fake, set_req("k", "v")).expect("plain set");
    assert!(get_at(&fake, "k", NOW + 3_600_000).is_some());
}

#[test]
fn bad_ttl_values_are_rejected() {
    let fake = Fake::default();
    for bad in ["foo", "0", "-5", "2.5", "9223372036854775807"] {
        assert_invalid_argument(set(
            &fake,
            with_meta(set_req("k", "v"), &[("ttlInSeconds", bad)]),
        ));
    }
    assert!(!fake.contains("k"));
    assert_eq!(fake.commits(), 0);
}

#[test]
fn expired_entries_behave_as_missing() {
    let fake = Fake::default();
    let expired = Record {
        expires_at_ms: Some(NOW - 1),
        content_type: None,
        data: b"old".to_vec(),
    };
    let version = fake.put_raw("k", &expired.encode().expect("encode"));

    assert!(get_at(&fake, "k", NOW).is_none());
    fake.put_raw("k", &expired.encode().expect("encode")); // get purged it; put it back
    assert_mismatch(set(
        &fake,
        with_etag(set_req("k", "x"), &version.to_string()),
    ));
    assert_mismatch(delete(&fake, del_req("k", Some(&version.to_string()))));
    set(&fake, first_write(set_req("k", "new"))).expect("first-write over an expired entry");
    assert_eq!(data(&fake, "k").as_deref(), Some("new"));
}

#[test]
fn delete_semantics() {
    let fake = Fake::default();
    delete(&fake, del_req("missing", None)).expect("missing key is fine");
    delete(&fake, del_req("missing", Some(""))).expect("empty etag is none");
    assert_mismatch(delete(&fake, del_req("missing", Some("5"))));

    set(&fake, set_req("k", "v")).expect("set");
    let good = etag(&fake, "k");
    assert_mismatch(delete(&fake, del_req("k", Some("bad-etag"))));
    assert_mismatch(delete(&fake, del_req("k", Some("123456"))));
    assert!(fake.contains("k"));
    delete(&fake, del_req("k", Some(&good))).expect("matching etag");
    assert!(get_at(&fake, "k", NOW).is_none());

    set(&fake, set_req("k", "v")).expect("set");
    delete(&fake, del_req("k", None)).expect("unconditional");
    assert!(!fake.contains("k"));
}

#[test]
fn content_type_is_stored_and_returned() {
    let fake = Fake::default();
    let mut req = with_meta(set_req("a", "{}"), &[("contentType", "text/plain")]);
    req.content_type = Some("application/json".to_owned());
    set(&fake, req).expect("set");
    set(
        &fake,
        with_meta(set_req("b", "x"), &[("contentType", "text/plain")]),
    )
    .expect("set");
    assert_eq!(
        get_at(&fake, "a", NOW)
            .and_then(|i| i.content_type)
            .as_deref(),
        Some("application/json")
    );
    assert_eq!(
        get_at(&fake, "b", NOW)
            .and_then(|i| i.content_type)
            .as_deref(),
        Some("text/plain")
    );
}

#[test]
fn empty_keys_are_invalid() {
    let fake = Fake::default();
    assert!(matches!(
        get(&fake, "", NOW),
        Err(Error::InvalidArgument(_))
    ));
    assert_invalid_argument(set(&fake, set_req("", "v")));
    assert_invalid_argument(delete(&fake, del_req("", None)));
}

#[test]
fn corrupt_records_are_errors_not_panics() {
    let fake = Fake::default();
    let version = fake.put_raw("k", &[9, 9, 9]);
    assert!(matches!(get(&fake, "k", NOW), Err(Error::Other(_))));
    assert!(matches!(
        set(&fake, with_etag(set_req("k", "x"), &version.to_string())),
        Err(Error::Other(_))
    ));
    set(&fake, set_req("k", "repaired")).expect("an unconditional set overwrites");
    assert_eq!(data(&fake, "k").as_deref(), Some("repaired"));
}

#[test]
fn bulk_get_answers_in_request_order() {
    let fake = Fake::default();
    set(&fake, set_req("a", "1")).expect("set");
    set(&fake, set_req("c", "3")).expect("set");
    fake.put_raw("bad", b"");
    let requests = ["c", "missing", "a", "bad", "", "a"].map(get_req).to_vec();
    let answers = bulk_get(&fake, requests, NOW).expect("bulk get");
    let summary: Vec<_> = answers
        .iter()
        .map(|a| {
            let data = a
                .item
                .as_ref()
                .map(|i| String::from_utf8(i.data.clone()).expect("utf8"));
            (a.key.as_str(), data, a.error.is_some())
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("c", Some("3".to_owned()), false),
            ("missing", None, false),
            ("a", Some("1".to_owned()), false),
            ("bad", None, true),
            ("", None, true),
            ("a", Some("1".to_owned()), false),
        ]
    );
    assert!(
        answers[0]
            .item
            .as_ref()
            .and_then(|i| i.etag.as_ref())
            .is_some()
    );
}

#[test]
fn bulk_get_hides_and_purges_expired_keys() {
    let fake = Fake::default();
    set(
        &fake,
        with_meta(set_req("t", "v"), &[("ttlInSeconds", "1")]),
    )
    .expect("set");
    let answers = bulk_get(&fake, vec![get_req("t")], NOW + 1_000).expect("bulk get");
    assert!(answers[0].item.is_none() && answers[0].error.is_none());
    assert!(!fake.contains("t"));
}

#[test]
fn bulk_set_is_all_or_nothing() {
    let fake = Fake::default();
    set(&fake, set_req("a", "1")).expect("set");
    set(&fake, set_req("b", "1")).expect("set");
    let etag_b = etag(&fake, "b");
    let commits = fake.commits();

    let ops = vec![
        Operation::Set(with_etag(set_req("b", "2"), &etag_b)),
        Operation::Set(with_etag(set_req("a", "2"), "424242")),
    ];
    assert_mismatch(apply(&fake, ops, &[], NOW));
    assert_eq!(
        fake.commits(),
        commits,
        "nothing is sent when a check fails"
    );
    assert_eq!(data(&fake, "b").as_deref(), Some("1"));

    // The first failing item decides the error.
    let ops = vec![
        Operation::Set(with_meta(set_req("a", "2"), &[("ttlInSeconds", "nope")])),
        Operation::Set(with_etag(set_req("b", "2"), "424242")),
    ];
    assert_invalid_argument(apply(&fake, ops, &[], NOW));

    let ops = vec![
        Operation::Set(set_req("a", "3")),
        Operation::Set(set_req("new", "3")),
    ];
    apply(&fake, ops, &[], NOW).expect("bulk set");
    assert_eq!(
        fake.commits(),
        commits + 1,
        "one commit for the whole batch"
    );
    assert_eq!(data(&fake, "new").as_deref(), Some("3"));
}

#[test]
fn bulk_delete_is_all_or_nothing() {
    let fake = Fake::default();
    set(&fake, set_req("a", "1")).expect("set");
    set(&fake, set_req("b", "1")).expect("set");
    let (etag_a, etag_b) = (etag(&fake, "a"), etag(&fake, "b"));
    let ops = vec![
        Operation::Delete(del_req("a", Some(&etag_a))),
        Operation::Delete(del_req("b", Some("424242"))),
    ];
    assert_mismatch(apply(&fake, ops, &[], NOW));
    assert!(fake.contains("a") && fake.contains("b"));
    let ops = vec![
        Operation::Delete(del_req("a", Some(&etag_a))),
        Operation::Delete(del_req("b", Some(&etag_b))),
        Operation::Delete(del_req("never-existed", None)),
    ];
    apply(&fake, ops, &[], NOW).expect("bulk delete");
    assert!(!fake.contains("a") && !fake.contains("b"));
}

#[test]
fn transaction_order() {
    let fake = Fake::default();
    set(&fake, set_req("k1", "v1")).expect("set");
    let commits = fake.commits();
    let ops = vec![
        Operation::Delete(del_req("k1", None)),
        Operation::Set(set_req("k2", "v2")),
        Operation::Delete(del_req("k2", None)),
        Operation::Set(set_req("k3", "v3")),
    ];
    apply(&fake, ops, &md(&[("partitionKey", "p")]), NOW).expect("transact");
    assert_eq!(fake.commits(), commits + 1);
    assert_eq!(data(&fake, "k1"), None);
    assert_eq!(data(&fake, "k2"), None);
    assert_eq!(data(&fake, "k3").as_deref(), Some("v3"));
}

#[test]
fn transaction_checks_see_earlier_operations() {
    let fake = Fake::default();
    // create-only twice in one transaction: the second sees the first.
    let ops = vec![
        Operation::Set(first_write(set_req("k", "a"))),
        Operation::Set(first_write(set_req("k", "b"))),
    ];
    assert_mismatch(apply(&fake, ops, &[], NOW));
    assert!(!fake.contains("k"));

    set(&fake, set_req("k", "v1")).expect("set");
    let old = etag(&fake, "k");
    // delete then create-only: allowed.
    let ops = vec![
        Operation::Delete(del_req("k", Some(&old))),
        Operation::Set(first_write(set_req("k", "v2"))),
    ];
    apply(&fake, ops, &[], NOW).expect("delete then create");
    assert_eq!(data(&fake, "k").as_deref(), Some("v2"));

    // A set in the transaction changes the etag: the old one no longer matches.
    let current = etag(&fake, "k");
    let ops = vec![
        Operation::Set(with_etag(set_req("k", "v3"), &current)),
        Operation::Set(with_etag(set_req("k", "v4"), &current)),
    ];
    assert_mismatch(apply(&fake, ops, &[], NOW));
    // Deleted earlier in the transaction: an etag no longer matches, a plain delete is fine.
    let ops = vec![
        Operation::Delete(del_req("k", None)),
        Operation::Delete(del_req("k", Some(&current))),
    ];
    assert_mismatch(apply(&fake, ops, &[], NOW));
    let ops = vec![
        Operation::Delete(del_req("k", None)),
        Operation::Delete(del_req("k", None)),
    ];
    apply(&fake, ops, &[], NOW).expect("double delete");
    assert!(!fake.contains("k"));
    apply(&fake, Vec::new(), &[], NOW).expect("empty transaction");
}

#[test]
fn transaction_metadata_ttl_is_validated_and_a_default() {
    let fake = Fake::default();
    let ops = || {
        vec![
            Operation::Set(set_req("a", "1")),
            Operation::Set(with_meta(set_req("b", "1"), &[("ttlInSeconds", "-1")])),
        ]
    };
    assert_invalid_argument(apply(&fake, ops(), &md(&[("ttlInSeconds", "x")]), NOW));
    apply(&fake, ops(), &md(&[("ttlInSeconds", "10")]), NOW).expect("transact");
    assert!(
        get_at(&fake, "a", NOW + 10_000).is_none(),
        "request-wide ttl applies"
    );
    assert!(
        get_at(&fake, "b", NOW + 10_000).is_some(),
        "the operation's own ttl wins"
    );
}

#[test]
fn a_concurrent_write_between_check_and_commit_is_a_mismatch() {
    let fake = Fake::default();
    set(&fake, set_req("k", "mine")).expect("set");
    let good = etag(&fake, "k");
    fake.on_next_commit(|fake| {
        fake.put_raw(
            "k",
            &Record {
                data: b"theirs".to_vec(),
                ..Record::default()
            }
            .encode()
            .expect("encode"),
        );
    });
    assert_mismatch(set(&fake, with_etag(set_req("k", "lost"), &good)));
    assert_eq!(data(&fake, "k").as_deref(), Some("theirs"));

    fake.on_next_commit(|fake| {
        fake.put_raw("new", &Record::default().encode().expect("encode"));
    });
    assert_mismatch(set(&fake, first_write(set_req("new", "mine"))));
}
