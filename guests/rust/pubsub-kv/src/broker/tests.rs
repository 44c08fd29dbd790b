//! Broker semantics against an in-memory fake of the host's versioned bucket.

use std::collections::BTreeSet;

use wasmplug_guest::testing::{FakeBucket as Fake, pairs as md};

use super::*;
use crate::exports::wasmplug::dapr::pubsub::BulkEntry;

/// Every message key of every topic, in order.
fn message_keys(fake: &Fake) -> Vec<String> {
    fake.keys_with_prefix("m/")
}

fn pub_req(topic: &str, data: &str) -> PublishRequest {
    PublishRequest {
        topic: topic.to_owned(),
        data: data.as_bytes().to_vec(),
        metadata: Vec::new(),
        content_type: None,
    }
}

fn send(fake: &Fake, topic: &str, data: &str) {
    publish(fake, pub_req(topic, data)).expect("publish");
}

fn datas(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| String::from_utf8(d.data.clone()).expect("utf-8"))
        .collect()
}

fn fetch_all(broker: &mut Broker, fake: &Fake, topic: &str) -> Vec<Delivery> {
    broker.fetch(fake, topic, 100).expect("fetch")
}

fn ok_ack(broker: &mut Broker, fake: &Fake, d: &Delivery) {
    broker.ack(fake, &d.topic, &d.id, None).expect("ack");
}

fn nack(broker: &mut Broker, fake: &Fake, d: &Delivery) {
    broker
        .ack(fake, &d.topic, &d.id, Some("handler failed"))
        .expect("nack");
}

/// The ack deadline of [`TestClock::broker`]s.
const DEADLINE: u64 = 30_000;

/// A wall clock the test moves by hand.
#[derive(Clone, Default)]
struct TestClock(std::rc::Rc<std::cell::Cell<u64>>);

impl TestClock {
    /// A broker (a component instance of its own) on this clock, with [`DEADLINE`].
    fn broker(&self) -> Broker {
        let now = self.0.clone();
        Broker::with_clock(DEADLINE, Box::new(move || now.get()))
    }

    fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

trait FakeExt {
    /// Whether only head/tail counters are left: no message and no claim.
    fn is_empty_but_counters(&self) -> bool;
    fn claim_keys(&self) -> Vec<String>;
}

impl FakeExt for Fake {
    fn is_empty_but_counters(&self) -> bool {
        self.keys_with_prefix("m/").is_empty() && self.keys_with_prefix("c/").is_empty()
    }

    fn claim_keys(&self) -> Vec<String> {
        self.keys_with_prefix("c/")
    }
}

fn other_error(result: Result<(), Error>) -> String {
    match result {
        Err(Error::Other(msg)) => msg,
        other => panic!("expected other, got {other:?}"),
    }
}

fn is_invalid(result: Result<(), Error>) -> String {
    match result {
        Err(Error::InvalidArgument(msg)) => msg,
        other => panic!("expected invalid-argument, got {other:?}"),
    }
}

#[test]
fn fetches_in_publish_order_with_unique_ids() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    for i in 0..5 {
        send(&fake, "orders", &format!("m{i}"));
    }
    let got = fetch_all(&mut broker, &fake, "orders");
    assert_eq!(datas(&got), ["m0", "m1", "m2", "m3", "m4"]);
    let ids: BTreeSet<_> = got.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 5);
    assert!(got.iter().all(|d| d.topic == "orders"));
    // Everything is in flight now.
    assert!(fetch_all(&mut broker, &fake, "orders").is_empty());
    send(&fake, "orders", "m5");
    assert_eq!(datas(&fetch_all(&mut broker, &fake, "orders")), ["m5"]);
}

#[test]
fn fetch_honours_max_and_keeps_order_across_calls() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    for i in 0..7 {
        send(&fake, "t", &format!("{i}"));
    }
    assert!(broker.fetch(&fake, "t", 0).expect("fetch").is_empty());
    assert_eq!(
        datas(&broker.fetch(&fake, "t", 3).expect("fetch")),
        ["0", "1", "2"]
    );
    assert_eq!(
        datas(&broker.fetch(&fake, "t", 3).expect("fetch")),
        ["3", "4", "5"]
    );
    assert_eq!(datas(&broker.fetch(&fake, "t", 3).expect("fetch")), ["6"]);
}

#[test]
fn fetch_caps_max() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    for i in 0..(MAX_FETCH + 5) {
        send(&fake, "t", &format!("{i}"));
    }
    assert_eq!(
        broker.fetch(&fake, "t", u32::MAX).expect("fetch").len(),
        MAX_FETCH
    );
    assert_eq!(broker.fetch(&fake, "t", u32::MAX).expect("fetch").len(), 5);
}

#[test]
fn delivery_carries_data_metadata_and_content_type() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    publish(
        &fake,
        PublishRequest {
            topic: "t".into(),
            data: vec![0, 159, 146, 150],
            metadata: md(&[("traceparent", "00-abc"), ("k", "")]),
            content_type: Some("application/cloudevents+json".into()),
        },
    )
    .expect("publish");
    let got = fetch_all(&mut broker, &fake, "t");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, [0, 159, 146, 150]);
    assert_eq!(got[0].metadata, md(&[("traceparent", "00-abc"), ("k", "")]));
    assert_eq!(
        got[0].content_type.as_deref(),
        Some("application/cloudevents+json")
    );
}

#[test]
fn nacked_message_comes_back_first_with_a_new_id() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    for i in 0..3 {
        send(&fake, "t", &format!("m{i}"));
    }
    let first = broker.fetch(&fake, "t", 1).expect("fetch");
    assert_eq!(datas(&first), ["m0"]);
    nack(&mut broker, &fake, &first[0]);
    let again = fetch_all(&mut broker, &fake, "t");
    assert_eq!(datas(&again), ["m0", "m1", "m2"]);
    assert_ne!(again[0].id, first[0].id);
    // The nacked delivery's id is spent.
    is_invalid(broker.ack(&fake, "t", &first[0].id, None));
    assert!(fake.contains(&TopicKeys::new("t").message(0)));

    // Nack in the middle: it is the lowest deliverable one, so it comes first.
    nack(&mut broker, &fake, &again[1]);
    send(&fake, "t", "m3");
    let next = fetch_all(&mut broker, &fake, "t");
    assert_eq!(datas(&next), ["m1", "m3"]);
    let ids: BTreeSet<_> = [&first, &again, &next]
        .iter()
        .flat_map(|ds| ds.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(ids.len(), 1 + 3 + 2, "every delivery has its own id");
}

#[test]
fn subscribe_makes_in_flight_messages_deliverable_again() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    for i in 0..3 {
        send(&fake, "t", &format!("m{i}"));
    }
    let first = fetch_all(&mut broker, &fake, "t");
    ok_ack(&mut broker, &fake, &first[1]);
    broker.subscribe(&fake, "t").expect("subscribe");
    let again = fetch_all(&mut broker, &fake, "t");
    assert_eq!(datas(&again), ["m0", "m2"]);
    assert_ne!(again[0].id, first[0].id);
    assert_ne!(again[1].id, first[2].id);
    // Deliveries of the ended stream can no longer be acked.
    is_invalid(broker.ack(&fake, "t", &first[0].id, None));
    // A second subscribe with nothing in flight is harmless; a subscribe to another topic
    // leaves this one alone.
    broker.subscribe(&fake, "other").expect("subscribe");
    assert!(fetch_all(&mut broker, &fake, "t").is_empty());
    ok_ack(&mut broker, &fake, &again[0]);
    ok_ack(&mut broker, &fake, &again[1]);
    broker.subscribe(&fake, "t").expect("subscribe");
    assert!(fetch_all(&mut broker, &fake, "t").is_empty());
}

#[test]
fn acked_messages_never_come_back() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let keys = TopicKeys::new("t");
    for i in 0..4 {
        send(&fake, "t", &format!("m{i}"));
    }
    let got = fetch_all(&mut broker, &fake, "t");
    ok_ack(&mut broker, &fake, &got[0]);
    assert!(!fake.contains(&keys.message(0)));
    assert_eq!(fake.counter(&keys.head), Some(1));
    // A second ack of the same delivery is refused and changes nothing.
    let msg = is_invalid(broker.ack(&fake, "t", &got[0].id, None));
    assert!(msg.contains("not in flight"), "{msg}");
    // Out of order: head cannot pass m1 (in flight).
    ok_ack(&mut broker, &fake, &got[2]);
    ok_ack(&mut broker, &fake, &got[3]);
    assert_eq!(fake.counter(&keys.head), Some(1));
    // Acking m1 moves head past the deleted m2 and m3, to the tail.
    ok_ack(&mut broker, &fake, &got[1]);
    assert_eq!(fake.counter(&keys.head), Some(4));
    assert!(message_keys(&fake).is_empty());
    broker.subscribe(&fake, "t").expect("subscribe");
    assert!(fetch_all(&mut broker, &fake, "t").is_empty());
    send(&fake, "t", "m4");
    assert_eq!(datas(&fetch_all(&mut broker, &fake, "t")), ["m4"]);
}

#[test]
fn topics_are_isolated() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    send(&fake, "a", "a0");
    send(&fake, "b", "b0");
    send(&fake, "a", "a1");
    let a = fetch_all(&mut broker, &fake, "a");
    let b = fetch_all(&mut broker, &fake, "b");
    assert_eq!(datas(&a), ["a0", "a1"]);
    assert_eq!(datas(&b), ["b0"]);
    // Same sequence number, different topic: the id does not transfer.
    let msg = is_invalid(broker.ack(&fake, "b", &a[0].id, None));
    assert!(msg.contains("not issued"), "{msg}");
    broker.subscribe(&fake, "a").expect("subscribe");
    assert!(
        fetch_all(&mut broker, &fake, "b").is_empty(),
        "b still in flight"
    );
    assert_eq!(datas(&fetch_all(&mut broker, &fake, "a")), ["a0", "a1"]);
    ok_ack(&mut broker, &fake, &b[0]);
    assert_eq!(message_keys(&fake).len(), 2);
}

#[test]
fn restart_redelivers_unacked_but_not_acked() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let mut before = clock.broker();
    for i in 0..4 {
        send(&fake, "t", &format!("m{i}"));
    }
    let got = fetch_all(&mut before, &fake, "t");
    ok_ack(&mut before, &fake, &got[0]);
    ok_ack(&mut before, &fake, &got[2]);
    nack(&mut before, &fake, &got[3]);

    // A new instance over the same bucket: the nacked message is deliverable at once; the
    // one the old instance left in flight once its claim has expired.
    let mut after = clock.broker();
    let first = fetch_all(&mut after, &fake, "t");
    assert_eq!(datas(&first), ["m3"]);
    clock.advance(DEADLINE);
    let second = fetch_all(&mut after, &fake, "t");
    assert_eq!(datas(&second), ["m1"]);
    // Ids of the previous instance are foreign, even for the same message.
    let msg = is_invalid(after.ack(&fake, "t", &got[1].id, None));
    assert!(msg.contains("not issued"), "{msg}");
    let ids_before: BTreeSet<_> = got.iter().map(|d| d.id.clone()).collect();
    assert!(
        first
            .iter()
            .chain(&second)
            .all(|d| !ids_before.contains(&d.id))
    );
    ok_ack(&mut after, &fake, &first[0]);
    ok_ack(&mut after, &fake, &second[0]);
    assert!(fake.is_empty_but_counters());
    assert!(fetch_all(&mut Broker::new(), &fake, "t").is_empty());
}

#[test]
fn in_an_unshared_bucket_a_restart_redelivers_at_once() {
    // The host's own durable store: no other process opens it, so what the previous
    // instance (a previous run of this process) left claimed is deliverable at once.
    let fake = Fake::default();
    let clock = TestClock::default();
    let mut before = clock.broker().sharing(false);
    for i in 0..3 {
        send(&fake, "t", &format!("m{i}"));
    }
    let got = fetch_all(&mut before, &fake, "t");
    assert_eq!(datas(&got), ["m0", "m1", "m2"]);
    ok_ack(&mut before, &fake, &got[0]);
    let mut after = clock.broker().sharing(false);
    let again = fetch_all(&mut after, &fake, "t");
    assert_eq!(datas(&again), ["m1", "m2"], "no wait for the deadline");
    assert!(again.iter().all(|d| d.id != got[1].id && d.id != got[2].id));
    // Its own claims still hold for itself: nothing is delivered twice by one instance.
    assert!(fetch_all(&mut after, &fake, "t").is_empty());
    // In a shared bucket the same claims would have held another instance off.
    let mut shared = clock.broker();
    assert!(fetch_all(&mut shared, &fake, "t").is_empty());
    for d in &again {
        ok_ack(&mut after, &fake, d);
    }
    assert!(fake.is_empty_but_counters());
}

#[test]
fn tricky_topic_names_do_not_collide() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let topics = [
        "a",
        "a/",
        "a/b",
        "a/00000000000000000000",
        "61",
        "t/61",
        "m/61",
        "ä",
        "a-b",
        " ",
    ];
    for topic in topics {
        send(&fake, topic, topic);
        send(&fake, topic, topic);
    }
    for topic in topics {
        let got = fetch_all(&mut broker, &fake, topic);
        assert_eq!(datas(&got), [topic, topic], "topic {topic:?}");
    }
}

#[test]
fn corrupt_records_are_errors_not_panics() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let keys = TopicKeys::new("t");
    send(&fake, "t", "good");
    send(&fake, "t", "bad");
    fake.put_raw(&keys.message(1), &[1, 0, 0xff, 0xff, 0xff, 0xff]);
    match broker.fetch(&fake, "t", 10) {
        Err(Error::Other(msg)) => assert!(msg.contains("corrupt"), "{msg}"),
        other => panic!("expected other, got {other:?}"),
    }
    // Nothing was put in flight by the failed fetch.
    assert!(broker.topics.is_empty());
    assert_eq!(
        datas(&broker.fetch(&fake, "t", 1).expect("fetch")),
        ["good"]
    );

    for garbage in [&b""[..], &[9], &[1, 2, 3, 4, 5, 6, 7, 8, 9]] {
        fake.put_raw(&keys.tail, garbage);
        assert!(matches!(
            publish(&fake, pub_req("t", "x")),
            Err(Error::Other(_))
        ));
        assert!(matches!(broker.fetch(&fake, "t", 1), Err(Error::Other(_))));
    }
    // Head past tail.
    fake.put_raw(&keys.tail, &counter::encode(1));
    fake.put_raw(&keys.head, &counter::encode(5));
    assert!(matches!(broker.fetch(&fake, "t", 1), Err(Error::Other(_))));
}

#[test]
fn publish_retries_when_it_loses_a_race_on_the_tail() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    // A concurrent publisher sneaks in just before our commit.
    fake.on_next_commit(|fake| send(fake, "t", "theirs"));
    send(&fake, "t", "ours");
    assert_eq!(fake.counter(&TopicKeys::new("t").tail), Some(2));
    assert_eq!(
        datas(&fetch_all(&mut broker, &fake, "t")),
        ["theirs", "ours"]
    );
}

#[test]
fn publish_gives_up_after_bounded_conflicts() {
    let fake = Fake::default();
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        fake.on_next_commit(|fake| {
            let tail = TopicKeys::new("t").tail;
            let next = fake.counter(&tail).unwrap_or(0) + 1;
            fake.put_raw(&tail, &counter::encode(next));
        });
    }
    match publish(&fake, pub_req("t", "x")) {
        Err(Error::Other(msg)) => assert!(msg.contains("gave up"), "{msg}"),
        other => panic!("expected other, got {other:?}"),
    }
    assert!(message_keys(&fake).is_empty());
    assert_eq!(fake.commits(), MAX_COMMIT_ATTEMPTS);
}

#[test]
fn publish_never_overwrites_a_message() {
    let fake = Fake::default();
    // A stray message key at the tail (storage damaged by hand) is never overwritten.
    fake.put_raw(&TopicKeys::new("t").message(0), b"stray");
    assert!(matches!(
        publish(&fake, pub_req("t", "x")),
        Err(Error::Other(_))
    ));
    assert_eq!(fake.counter(&TopicKeys::new("t").tail), None);
}

#[test]
fn bulk_publish_appends_in_order_and_reports_failures_per_entry() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let entry = |id: &str, data: &str, metadata: Vec<(String, String)>| BulkEntry {
        entry_id: id.to_owned(),
        event: data.as_bytes().to_vec(),
        content_type: Some("text/plain".into()),
        metadata,
    };
    let too_much: Vec<_> = (0..=MAX_METADATA_PAIRS)
        .map(|i| (i.to_string(), String::new()))
        .collect();
    let failures = bulk_publish(
        &fake,
        BulkPublishRequest {
            topic: "t".into(),
            entries: vec![
                entry("1", "one", md(&[("k", "entry")])),
                entry("2", "two", too_much),
                entry("", "three", Vec::new()),
            ],
            metadata: md(&[("k", "request"), ("r", "x")]),
        },
    )
    .expect("bulk publish");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].entry_id, "2");
    assert!(
        failures[0].error.contains("metadata"),
        "{}",
        failures[0].error
    );
    assert_eq!(fake.commits(), 1, "one commit for the whole batch");

    let got = fetch_all(&mut broker, &fake, "t");
    assert_eq!(datas(&got), ["one", "three"]);
    assert_eq!(got[0].metadata, md(&[("k", "entry"), ("r", "x")]));
    assert_eq!(got[1].metadata, md(&[("k", "request"), ("r", "x")]));
    assert_eq!(got[1].content_type.as_deref(), Some("text/plain"));

    let empty_topic = bulk_publish(
        &fake,
        BulkPublishRequest {
            topic: String::new(),
            entries: vec![entry("1", "one", Vec::new())],
            metadata: Vec::new(),
        },
    );
    assert!(matches!(empty_topic, Err(Error::InvalidArgument(_))));
}

#[test]
fn bulk_publish_commits_in_chunks_and_reports_failed_chunks() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let count = MAX_BULK_CHUNK * 2 + 3;
    let request = BulkPublishRequest {
        topic: "t".into(),
        entries: (0..count)
            .map(|i| BulkEntry {
                entry_id: i.to_string(),
                event: i.to_string().into_bytes(),
                content_type: None,
                metadata: Vec::new(),
            })
            .collect(),
        metadata: Vec::new(),
    };
    // The second chunk's commit fails at the store.
    fake.on_next_commit(|_| {});
    fake.on_next_commit(|fake| fake.fail_commits(true));
    fake.on_next_commit(|fake| fake.fail_commits(false));
    let failures = bulk_publish(&fake, request).expect("bulk publish");
    let failed: Vec<_> = failures.iter().map(|f| f.entry_id.clone()).collect();
    let want: Vec<_> = (MAX_BULK_CHUNK..MAX_BULK_CHUNK * 2)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(failed, want);
    assert!(failures[0].error.contains("disk on fire"));
    let mut seen = Vec::new();
    loop {
        let got = fetch_all(&mut broker, &fake, "t");
        if got.is_empty() {
            break;
        }
        seen.extend(datas(&got));
    }
    let want: Vec<_> = (0..MAX_BULK_CHUNK)
        .chain(MAX_BULK_CHUNK * 2..count)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn empty_and_oversized_arguments_are_invalid() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    assert!(matches!(
        publish(&fake, pub_req("", "x")),
        Err(Error::InvalidArgument(_))
    ));
    let long = "x".repeat(keys::MAX_TOPIC_LEN + 1);
    assert!(matches!(
        publish(&fake, pub_req(&long, "x")),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        broker.fetch(&fake, "", 1),
        Err(Error::InvalidArgument(_))
    ));
    is_invalid(broker.subscribe(&fake, ""));
    is_invalid(broker.ack(&fake, "", "x", None));
    let mut big = pub_req("t", "");
    big.data = vec![0; MAX_RECORD_LEN];
    assert!(matches!(
        publish(&fake, big),
        Err(Error::InvalidArgument(_))
    ));
    assert!(fake.is_empty());
}

#[test]
fn malformed_or_unknown_ids_are_invalid() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    send(&fake, "t", "m0");
    let got = fetch_all(&mut broker, &fake, "t");
    let id = DeliveryId::parse(&got[0].id).expect("own id parses");
    for bad in [
        String::new(),
        "garbage".to_owned(),
        format!("{}-x", got[0].id),
        got[0].id.to_uppercase(),
        "\u{0}".repeat(10_000),
        DeliveryId { seq: 1, ..id }.to_string(),
        DeliveryId { attempt: 2, ..id }.to_string(),
        DeliveryId {
            nonce: id.nonce ^ 1,
            ..id
        }
        .to_string(),
    ] {
        is_invalid(broker.ack(&fake, "t", &bad, None));
    }
    // The real id still works after all that.
    ok_ack(&mut broker, &fake, &got[0]);
}

#[test]
fn failed_ack_leaves_the_message_in_flight_for_a_retry() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    send(&fake, "t", "m0");
    let got = fetch_all(&mut broker, &fake, "t");
    fake.fail_commits(true);
    assert!(matches!(
        broker.ack(&fake, "t", &got[0].id, None),
        Err(Error::Other(_))
    ));
    assert!(
        fetch_all(&mut broker, &fake, "t").is_empty(),
        "still in flight"
    );
    fake.fail_commits(false);
    ok_ack(&mut broker, &fake, &got[0]);
    assert!(message_keys(&fake).is_empty());
}

#[test]
fn ack_retries_when_head_moves_concurrently() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let keys = TopicKeys::new("t");
    send(&fake, "t", "m0");
    send(&fake, "t", "m1");
    let got = fetch_all(&mut broker, &fake, "t");
    // Someone rewrites head (same value, new version) just before our commit.
    let head_key = keys.head.clone();
    fake.on_next_commit(move |fake| {
        fake.put_raw(&head_key, &counter::encode(0));
    });
    ok_ack(&mut broker, &fake, &got[0]);
    assert_eq!(fake.counter(&keys.head), Some(1));
    assert!(!fake.contains(&keys.message(0)));
}

#[test]
fn fetch_skips_and_moves_head_past_messages_deleted_elsewhere() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let keys = TopicKeys::new("t");
    for i in 0..5 {
        send(&fake, "t", &format!("m{i}"));
    }
    fake.remove_raw(&keys.message(0));
    fake.remove_raw(&keys.message(1));
    fake.remove_raw(&keys.message(3));
    assert_eq!(datas(&fetch_all(&mut broker, &fake, "t")), ["m2", "m4"]);
    assert_eq!(fake.counter(&keys.head), Some(2));
}

#[test]
fn a_scan_reads_a_bounded_number_of_keys() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let keys = TopicKeys::new("t");
    let total = MAX_SCAN_READS + 10;
    for i in 0..total {
        send(&fake, "t", &format!("m{i}"));
    }
    for seq in 0..u64::try_from(total - 1).expect("fits") {
        fake.remove_raw(&keys.message(seq));
    }
    let reads = fake.reads();
    assert!(fetch_all(&mut broker, &fake, "t").is_empty());
    assert!(fake.reads() - reads <= MAX_SCAN_READS + 2);
    // The head moved, so the next fetch finds the last message.
    assert_eq!(
        datas(&fetch_all(&mut broker, &fake, "t")),
        [format!("m{}", total - 1)]
    );
}

#[test]
fn in_flight_is_bounded() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    let chunk = (0..MAX_FETCH)
        .map(|i| BulkEntry {
            entry_id: String::new(),
            event: i.to_string().into_bytes(),
            content_type: None,
            metadata: Vec::new(),
        })
        .collect::<Vec<_>>();
    for _ in 0..(MAX_IN_FLIGHT / MAX_FETCH + 1) {
        let failures = bulk_publish(
            &fake,
            BulkPublishRequest {
                topic: "t".into(),
                entries: chunk.clone(),
                metadata: Vec::new(),
            },
        )
        .expect("bulk");
        assert!(failures.is_empty());
    }
    let mut in_flight = 0;
    loop {
        let got = fetch_all(&mut broker, &fake, "t");
        if got.is_empty() {
            break;
        }
        in_flight += got.len();
    }
    assert_eq!(in_flight, MAX_IN_FLIGHT);
}

#[test]
fn the_claim_is_in_the_bucket_and_goes_with_the_ack() {
    let fake = Fake::default();
    let clock = TestClock::default();
    clock.advance(1_000);
    let mut broker = clock.broker();
    let keys = TopicKeys::new("t");
    send(&fake, "t", "m0");
    let got = fetch_all(&mut broker, &fake, "t");
    let id = DeliveryId::parse(&got[0].id).expect("id");
    let claim = Claim::decode(&fake.value(&keys.claim(0)).expect("claimed")).expect("claim");
    assert_eq!(
        claim,
        Claim {
            owner: id.nonce,
            attempt: 1,
            expires: 1_000 + DEADLINE
        }
    );
    ok_ack(&mut broker, &fake, &got[0]);
    assert!(fake.is_empty_but_counters());
}

#[test]
fn two_instances_share_a_subscription_each_message_delivered_once() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let (mut a, mut b) = (clock.broker(), clock.broker());
    for i in 0..10 {
        send(&fake, "t", &format!("m{i}"));
    }
    let a1 = a.fetch(&fake, "t", 3).expect("fetch");
    let b1 = b.fetch(&fake, "t", 4).expect("fetch");
    let a2 = fetch_all(&mut a, &fake, "t");
    assert_eq!(datas(&a1), ["m0", "m1", "m2"]);
    assert_eq!(datas(&b1), ["m3", "m4", "m5", "m6"], "skips what A has");
    assert_eq!(datas(&a2), ["m7", "m8", "m9"], "skips what B has");
    assert!(fetch_all(&mut a, &fake, "t").is_empty());
    assert!(fetch_all(&mut b, &fake, "t").is_empty());
    assert_eq!(fake.claim_keys().len(), 10);
    // Each acks its own; the other's ids are foreign to it.
    let msg = is_invalid(a.ack(&fake, "t", &b1[0].id, None));
    assert!(msg.contains("not issued"), "{msg}");
    for d in a1.iter().chain(&a2) {
        ok_ack(&mut a, &fake, d);
    }
    for d in &b1 {
        ok_ack(&mut b, &fake, d);
    }
    assert!(fake.is_empty_but_counters());
    assert_eq!(fake.counter(&TopicKeys::new("t").head), Some(10));
    send(&fake, "t", "m10");
    assert_eq!(datas(&fetch_all(&mut b, &fake, "t")), ["m10"]);
    assert!(fetch_all(&mut a, &fake, "t").is_empty());
}

#[test]
fn a_dead_instances_messages_go_to_another_after_the_deadline() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let (mut dead, mut alive) = (clock.broker(), clock.broker());
    let keys = TopicKeys::new("t");
    for i in 0..3 {
        send(&fake, "t", &format!("m{i}"));
    }
    let lost = dead.fetch(&fake, "t", 2).expect("fetch");
    assert_eq!(datas(&lost), ["m0", "m1"]);
    let m2 = fetch_all(&mut alive, &fake, "t");
    assert_eq!(datas(&m2), ["m2"]);
    ok_ack(&mut alive, &fake, &m2[0]);
    clock.advance(DEADLINE - 1);
    assert!(fetch_all(&mut alive, &fake, "t").is_empty(), "not yet");
    clock.advance(1);
    let again = fetch_all(&mut alive, &fake, "t");
    assert_eq!(datas(&again), ["m0", "m1"], "in publish order");
    for (old, new) in lost.iter().zip(&again) {
        assert_ne!(old.id, new.id);
        assert!(new.id.ends_with("-2"), "second delivery: {}", new.id);
    }
    // The dead one comes back to life and acks late: refused, nothing removed.
    let msg = other_error(dead.ack(&fake, "t", &lost[0].id, None));
    assert!(
        msg.contains("expired (ack deadline 30s)") && msg.contains("another subscriber"),
        "{msg}"
    );
    assert!(fake.contains(&keys.message(0)));
    // Its nack of the other is harmless too: the new owner keeps it.
    nack(&mut dead, &fake, &lost[1]);
    is_invalid(dead.ack(&fake, "t", &lost[1].id, None));
    assert!(fetch_all(&mut dead, &fake, "t").is_empty());
    for d in &again {
        ok_ack(&mut alive, &fake, d);
    }
    assert!(fake.is_empty_but_counters());
    assert_eq!(fake.counter(&keys.head), Some(3));
}

#[test]
fn an_expired_claim_nobody_took_is_still_acked() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let mut slow = clock.broker();
    send(&fake, "t", "m0");
    let got = fetch_all(&mut slow, &fake, "t");
    clock.advance(DEADLINE * 10);
    // Its own instance does not redeliver it while it is in flight there.
    assert!(fetch_all(&mut slow, &fake, "t").is_empty());
    ok_ack(&mut slow, &fake, &got[0]);
    assert!(fake.is_empty_but_counters());
}

#[test]
fn a_nack_makes_the_message_next_for_either_instance() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let (mut a, mut b) = (clock.broker(), clock.broker());
    for i in 0..4 {
        send(&fake, "t", &format!("m{i}"));
    }
    let a0 = a.fetch(&fake, "t", 1).expect("fetch");
    let b0 = b.fetch(&fake, "t", 1).expect("fetch");
    assert_eq!(
        (datas(&a0), datas(&b0)),
        (vec!["m0".into()], vec!["m1".into()])
    );
    nack(&mut a, &fake, &a0[0]);
    let b1 = b.fetch(&fake, "t", 1).expect("fetch");
    assert_eq!(datas(&b1), ["m0"], "B gets A's nacked message first");
    assert_ne!(b1[0].id, a0[0].id);
    nack(&mut b, &fake, &b1[0]);
    nack(&mut b, &fake, &b0[0]);
    let a1 = fetch_all(&mut a, &fake, "t");
    assert_eq!(
        datas(&a1),
        ["m0", "m1", "m2", "m3"],
        "and back to A, in order"
    );
    let ids: BTreeSet<_> = [&a0, &b0, &b1, &a1]
        .iter()
        .flat_map(|ds| ds.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(ids.len(), 1 + 1 + 1 + 4, "every delivery has its own id");
}

#[test]
fn subscribe_releases_this_instances_claims_to_everyone() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let (mut a, mut b) = (clock.broker(), clock.broker());
    for i in 0..3 {
        send(&fake, "t", &format!("m{i}"));
    }
    let first = fetch_all(&mut a, &fake, "t");
    ok_ack(&mut a, &fake, &first[1]);
    a.subscribe(&fake, "t").expect("subscribe");
    assert!(fake.claim_keys().is_empty());
    assert_eq!(datas(&fetch_all(&mut b, &fake, "t")), ["m0", "m2"]);
    assert!(fetch_all(&mut a, &fake, "t").is_empty());
}

#[test]
fn a_lost_claim_race_drops_only_the_message_taken() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let mut a = clock.broker();
    let b = std::rc::Rc::new(std::cell::RefCell::new(clock.broker()));
    for i in 0..3 {
        send(&fake, "t", &format!("m{i}"));
    }
    // B claims m1 between A's reads and A's claim commit.
    let rival = b.clone();
    fake.on_next_commit(move |fake| {
        let mut b = rival.borrow_mut();
        b.fetch(fake, "t", 2).expect("fetch");
    });
    // B's fetch saw m0 and m1 unclaimed; it took both before A's commit.
    assert_eq!(datas(&fetch_all(&mut a, &fake, "t")), ["m2"]);
    let mut b = b.borrow_mut();
    assert!(fetch_all(&mut b, &fake, "t").is_empty());
    b.subscribe(&fake, "t").expect("subscribe");
    assert_eq!(datas(&fetch_all(&mut a, &fake, "t")), ["m0", "m1"]);
}

#[test]
fn a_release_that_failed_leaves_the_claim_to_its_owner_at_once() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let (mut a, mut b) = (clock.broker(), clock.broker());
    send(&fake, "t", "m0");
    let first = fetch_all(&mut a, &fake, "t");
    fake.fail_commits(true);
    a.subscribe(&fake, "t").expect("subscribe is best effort");
    fake.fail_commits(false);
    assert_eq!(fake.claim_keys().len(), 1);
    assert!(fetch_all(&mut b, &fake, "t").is_empty(), "others wait");
    let again = fetch_all(&mut a, &fake, "t");
    assert_eq!(datas(&again), ["m0"], "its owner takes it back");
    assert_ne!(again[0].id, first[0].id);
    ok_ack(&mut a, &fake, &again[0]);
    assert!(fake.is_empty_but_counters());
}

#[test]
fn a_failed_nack_leaves_the_message_in_flight_for_a_retry() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    send(&fake, "t", "m0");
    let got = fetch_all(&mut broker, &fake, "t");
    fake.fail_commits(true);
    other_error(broker.ack(&fake, "t", &got[0].id, Some("failed")));
    fake.fail_commits(false);
    nack(&mut broker, &fake, &got[0]);
    assert_eq!(datas(&fetch_all(&mut broker, &fake, "t")), ["m0"]);
}

#[test]
fn undecodable_claims_do_not_block_a_message() {
    let fake = Fake::default();
    let mut broker = Broker::new();
    send(&fake, "t", "m0");
    fake.put_raw(&TopicKeys::new("t").claim(0), b"junk");
    assert_eq!(datas(&fetch_all(&mut broker, &fake, "t")), ["m0"]);
}

#[test]
fn a_restarted_broker_keeps_its_nonces_and_takes_its_claims_back() {
    let fake = Fake::default();
    let clock = TestClock::default();
    let mut broker = clock.broker();
    send(&fake, "t", "m0");
    let first = fetch_all(&mut broker, &fake, "t");
    let mut broker = broker.restarted(DEADLINE);
    let msg = is_invalid(broker.ack(&fake, "t", &first[0].id, None));
    assert!(msg.contains("not in flight"), "{msg}");
    let again = fetch_all(&mut broker, &fake, "t");
    assert_eq!(datas(&again), ["m0"]);
    assert_ne!(again[0].id, first[0].id);
}

#[test]
fn ack_deadlines_parse() {
    assert_eq!(parse_ack_deadline(None).ok(), Some(60_000));
    for (text, ms) in [
        ("500ms", 500),
        ("30s", 30_000),
        ("2m", 120_000),
        ("1440m", MAX_ACK_DEADLINE_MS),
    ] {
        assert_eq!(parse_ack_deadline(Some(text)).ok(), Some(ms), "{text}");
    }
    for bad in [
        "",
        "0s",
        "30",
        "s",
        "1.5s",
        "-1s",
        "+1s",
        "30 s",
        "30S",
        "1h",
        "1441m",
        "99999999999999999999ms",
    ] {
        let msg = is_invalid(parse_ack_deadline(Some(bad)).map(|_| ()));
        assert!(msg.contains("metadata ackDeadline"), "{msg}");
    }
    assert_eq!(format_duration(1500), "1500ms");
}

/// A backend over `fake` that runs `hook` just before the first read of `key`.
struct BeforeRead<'a> {
    fake: &'a Fake,
    key: String,
    hook: std::cell::RefCell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl Backend for BeforeRead<'_> {
    fn get_versioned(
        &self,
        key: &str,
    ) -> Result<Option<wasmplug_guest::keyvalue_atomics::Entry>, wasmplug_guest::kv::KvError> {
        if key == self.key
            && let Some(hook) = self.hook.borrow_mut().take()
        {
            hook();
        }
        self.fake.get_versioned(key)
    }

    fn commit(&self, writes: &[Write]) -> Result<Vec<u64>, CommitError> {
        self.fake.commit(writes)
    }
}

#[test]
fn an_ack_between_a_scans_reads_never_redelivers_the_message() {
    // B reads message 0 (there), then A acks it (message and claim deleted in one commit),
    // then B reads the claim (absent): B must notice the message is gone, not deliver it.
    let fake = Fake::default();
    let clock = TestClock::default();
    let (a, mut b) = (std::cell::RefCell::new(clock.broker()), clock.broker());
    send(&fake, "t", "m0");
    send(&fake, "t", "m1");
    let held = a.borrow_mut().fetch(&fake, "t", 1).expect("fetch");
    assert_eq!(datas(&held), ["m0"]);
    let racing = BeforeRead {
        fake: &fake,
        key: TopicKeys::new("t").claim(0),
        hook: std::cell::RefCell::new(Some(Box::new(|| {
            ok_ack(&mut a.borrow_mut(), &fake, &held[0]);
        }))),
    };
    let got = b.fetch(&racing, "t", 10).expect("fetch");
    assert!(racing.hook.borrow().is_none(), "the ack ran mid-scan");
    assert_eq!(
        datas(&got),
        ["m1"],
        "the acked message is not delivered again"
    );
}

#[test]
fn a_fetch_that_loses_every_claim_looks_further_on() {
    // B found m0 and m1, but A claims both just before B's claim commit: B scans again and
    // takes the next ones instead of coming back empty.
    let fake = Fake::default();
    let clock = TestClock::default();
    let a = std::rc::Rc::new(std::cell::RefCell::new(clock.broker()));
    let mut b = clock.broker();
    for i in 0..4 {
        send(&fake, "t", &format!("m{i}"));
    }
    let taken = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    fake.on_next_commit({
        let (a, taken) = (a.clone(), taken.clone());
        move |fake| {
            *taken.borrow_mut() = a.borrow_mut().fetch(fake, "t", 2).expect("fetch");
        }
    });
    let got = b.fetch(&fake, "t", 2).expect("fetch");
    assert_eq!(datas(&taken.borrow()), ["m0", "m1"]);
    assert_eq!(datas(&got), ["m2", "m3"]);
}
