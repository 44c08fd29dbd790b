//! Both sides together against one in-memory fake bucket: the output side of one instance
//! sends, the input side of another polls, as the host runs them.

use std::collections::BTreeSet;

use wasmplug_guest::testing::FakeBucket as Fake;

use super::*;
use crate::exports::wasmplug::dapr::output_binding::InvokeRequest;
use crate::queue::{HEAD_KEY, MAX_COMMIT_ATTEMPTS, TAIL_KEY};
use crate::sender;

const NONCE: u64 = 0x0123_4567_89ab_cdef;

fn send(fake: &Fake, data: &str, metadata: &[(&str, &str)]) -> u64 {
    let response = sender::invoke(
        fake,
        InvokeRequest {
            operation: "send".to_owned(),
            data: data.as_bytes().to_vec(),
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
    )
    .expect("send");
    let json = String::from_utf8(response.data).expect("utf-8");
    json.strip_prefix("{\"sequence\":")
        .and_then(|rest| rest.strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .expect("a sequence")
}

fn poll(receiver: &mut Receiver, fake: &Fake, max: u32) -> Vec<Event> {
    let polled = receiver.poll(fake, max).expect("poll");
    assert!(polled.dropped.is_empty(), "{:?}", polled.dropped);
    if polled.result.events.is_empty() {
        assert_eq!(polled.result.next_poll_ms, Some(EMPTY_POLL_MS));
    }
    polled.result.events
}

fn datas(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| std::str::from_utf8(&e.data).expect("utf-8"))
        .collect()
}

fn meta<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event
        .metadata
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn empty_queue_asks_for_a_later_poll() {
    let fake = Fake::default();
    let mut receiver = Receiver::new(NONCE);
    let polled = receiver.poll(&fake, 10).unwrap();
    assert!(polled.result.events.is_empty());
    assert_eq!(polled.result.next_poll_ms, Some(200));
    assert_eq!(fake.commits(), 0);
}

#[test]
fn fifo_across_send_and_poll() {
    let fake = Fake::default();
    let mut receiver = Receiver::new(NONCE);
    assert_eq!(send(&fake, "one", &[]), 1);
    assert_eq!(send(&fake, "two", &[]), 2);
    assert_eq!(datas(&poll(&mut receiver, &fake, 1)), ["one"]);
    assert_eq!(send(&fake, "three", &[]), 3);
    assert_eq!(send(&fake, "four", &[]), 4);
    let events = poll(&mut receiver, &fake, 2);
    assert_eq!(datas(&events), ["two", "three"]);
    assert_eq!(meta(&events[1], "sequence"), Some("3"));
    assert_eq!(datas(&poll(&mut receiver, &fake, 0)), Vec::<&str>::new());
    let events = poll(&mut receiver, &fake, 10);
    assert_eq!(datas(&events), ["four"]);
    assert_eq!(events[0].id, format!("{NONCE:016x}-4"));
    assert!(poll(&mut receiver, &fake, 10).is_empty());
    // Every message taken is gone from the bucket.
    assert!(fake.keys_with_prefix("m/").is_empty());
    assert_eq!(fake.counter(HEAD_KEY), fake.counter(TAIL_KEY));
}

#[test]
fn events_carry_what_was_sent() {
    let fake = Fake::default();
    let mut receiver = Receiver::new(NONCE);
    send(
        &fake,
        "{\"a\":1}",
        &[
            ("contentType", "application/json"),
            ("x", "y"),
            ("sequence", "spoofed"),
        ],
    );
    send(&fake, "plain", &[]);
    let events = poll(&mut receiver, &fake, 10);
    let first = &events[0];
    assert_eq!(first.data, b"{\"a\":1}");
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        first.metadata,
        [
            ("contentType", "application/json"),
            ("x", "y"),
            ("sequence", "1"),
            ("repliesReceived", "0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(events[1].content_type, None);
    assert_eq!(meta(&events[1], "sequence"), Some("2"));
}

#[test]
fn two_instances_share_the_queue_over_one_bucket() {
    // Instance A serves the output side, instance B the input side; C is a second input
    // instance (a re-init or a rival) with its own nonce.
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    let mut c = Receiver::new(!NONCE);
    for data in ["a", "b", "c", "d", "e"] {
        send(&fake, data, &[]);
    }
    let from_b = poll(&mut b, &fake, 2);
    let from_c = poll(&mut c, &fake, 2);
    let rest = poll(&mut b, &fake, 10);
    assert_eq!(datas(&from_b), ["a", "b"]);
    assert_eq!(datas(&from_c), ["c", "d"]);
    assert_eq!(datas(&rest), ["e"]);
    assert!(poll(&mut c, &fake, 10).is_empty());
    // Each instance accepts replies only to its own events.
    assert!(b.reply(&from_b[0].id, b"", None).is_ok());
    assert!(matches!(
        b.reply(&from_c[0].id, b"", None),
        Err(Error::InvalidArgument(_))
    ));
    assert!(c.reply(&from_c[1].id, b"", None).is_ok());
    assert!(matches!(
        c.reply(&rest[0].id, b"", None),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_concurrent_poll_never_duplicates_a_message() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    for data in ["a", "b", "c"] {
        send(&fake, data, &[]);
    }
    fake.on_next_commit(|f| {
        let mut rival = Receiver::new(!NONCE);
        let events = rival.poll(f, 1).unwrap().result.events;
        assert_eq!(datas(&events), ["a"]);
    });
    assert_eq!(datas(&poll(&mut b, &fake, 10)), ["b", "c"]);
    assert!(poll(&mut b, &fake, 10).is_empty());
}

#[test]
fn a_concurrent_send_is_retried_and_keeps_order() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    fake.on_next_commit(|f| {
        assert_eq!(send(f, "rival", &[]), 1);
    });
    assert_eq!(send(&fake, "mine", &[]), 2);
    assert_eq!(datas(&poll(&mut b, &fake, 10)), ["rival", "mine"]);
}

#[test]
fn a_send_losing_every_race_fails_cleanly() {
    let fake = Fake::default();
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        fake.on_next_commit(|f| {
            send(f, "rival", &[]);
        });
    }
    let result = sender::invoke(
        &fake,
        InvokeRequest {
            operation: "send".to_owned(),
            data: b"mine".to_vec(),
            metadata: Vec::new(),
        },
    );
    assert!(matches!(result, Err(Error::Other(_))));
    let mut b = Receiver::new(NONCE);
    let events = poll(&mut b, &fake, 100);
    assert_eq!(events.len(), MAX_COMMIT_ATTEMPTS);
    assert!(datas(&events).iter().all(|d| *d == "rival"));
}

#[test]
fn ids_are_unique() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    let mut c = Receiver::new(!NONCE);
    let mut ids = BTreeSet::new();
    for round in 0..20 {
        for _ in 0..3 {
            send(&fake, "x", &[]);
        }
        let receiver = if round % 2 == 0 { &mut b } else { &mut c };
        for event in poll(receiver, &fake, 10) {
            assert!(ids.insert(event.id.clone()), "{} repeated", event.id);
        }
    }
    assert_eq!(ids.len(), 60);
    // Two real receivers get different random nonces.
    let (x, y) = (crate::random_nonce(), crate::random_nonce());
    assert_ne!(x, y);
}

#[test]
fn poll_is_capped() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    for _ in 0..MAX_POLL + 5 {
        send(&fake, "x", &[]);
    }
    assert_eq!(poll(&mut b, &fake, u32::MAX).len(), MAX_POLL);
    assert_eq!(poll(&mut b, &fake, u32::MAX).len(), 5);
}

#[test]
fn bad_reply_ids_are_invalid_arguments() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    // Nothing emitted yet: even a well-formed id with our nonce is not ours.
    assert!(matches!(
        b.reply(&format!("{NONCE:016x}-1"), b"", None),
        Err(Error::InvalidArgument(_))
    ));
    send(&fake, "a", &[]);
    send(&fake, "b", &[]);
    let events = poll(&mut b, &fake, 10);
    assert_eq!(events[1].id, format!("{NONCE:016x}-2"));
    for bad in [
        String::new(),
        "nope".to_owned(),
        "-1".to_owned(),
        format!("{NONCE:016x}"),
        format!("{NONCE:016x}-"),
        format!("{NONCE:016x}-0"),
        format!("{NONCE:016x}-3"),
        format!("{NONCE:016x}-01"),
        format!("{NONCE:016x}-+1"),
        format!("{NONCE:016x}-1-1"),
        format!("{NONCE:016x}-1 "),
        format!("{NONCE:016X}-1"),
        format!("{NONCE:x}1"),
        format!("0{NONCE:016x}-1"),
        format!("{:016x}-1", !NONCE),
        format!("{NONCE:016x}-18446744073709551616"),
    ] {
        assert!(
            matches!(b.reply(&bad, b"", None), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    // Rejected replies are not counted.
    send(&fake, "c", &[]);
    let events = poll(&mut b, &fake, 10);
    assert_eq!(meta(&events[0], "repliesReceived"), Some("0"));
    assert_eq!(meta(&events[0], "lastReplyId"), None);
}

#[test]
fn replies_are_counted_and_echoed() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    send(&fake, "a", &[]);
    send(&fake, "b", &[]);
    let events = poll(&mut b, &fake, 10);
    b.reply(&events[0].id, b"ok", None).unwrap();
    b.reply(&events[1].id, b"a\xffb", Some("app failed".to_owned()))
        .unwrap();
    send(&fake, "c", &[]);
    let third = poll(&mut b, &fake, 10).remove(0);
    assert_eq!(meta(&third, "repliesReceived"), Some("2"));
    assert_eq!(meta(&third, "lastReplyId"), Some(events[1].id.as_str()));
    assert_eq!(meta(&third, "lastReplyError"), Some("app failed"));
    assert_eq!(meta(&third, "lastReplyData"), Some("a\u{fffd}b"));

    b.reply(&third.id, "é".repeat(200).as_bytes(), None)
        .unwrap();
    send(&fake, "d", &[]);
    let fourth = poll(&mut b, &fake, 10).remove(0);
    assert_eq!(meta(&fourth, "repliesReceived"), Some("3"));
    assert_eq!(meta(&fourth, "lastReplyError"), None);
    assert_eq!(
        meta(&fourth, "lastReplyData"),
        Some("é".repeat(128).as_str())
    );
}

#[test]
fn corrupt_messages_are_dropped_not_stuck() {
    let fake = Fake::default();
    let mut b = Receiver::new(NONCE);
    send(&fake, "a", &[]);
    fake.put_raw(&queue::message_key(1), b"\x09garbage");
    send(&fake, "b", &[]);
    let polled = b.poll(&fake, 10).unwrap();
    assert_eq!(polled.dropped.len(), 1);
    assert!(
        polled.dropped[0].contains("message 1"),
        "{:?}",
        polled.dropped
    );
    assert_eq!(datas(&polled.result.events), ["b"]);
    assert_eq!(polled.result.next_poll_ms, None);
}

#[test]
fn truncates_on_char_boundaries() {
    assert_eq!(truncate("abc".to_owned(), 5), "abc");
    assert_eq!(truncate("abcdef".to_owned(), 3), "abc");
    assert_eq!(truncate("aé".to_owned(), 2), "a");
}
