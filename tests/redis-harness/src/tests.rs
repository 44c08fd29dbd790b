//! Every test runs real servers.

use std::collections::BTreeSet;
use std::path::Path;

use crate::process::{self, percent_encode};
use crate::{Options, RedisCluster, RedisServer};

fn pid(server: &RedisServer) -> u32 {
    let info = server.cli(&["INFO", "server"]);
    info.lines()
        .find_map(|line| line.trim().strip_prefix("process_id:"))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no process_id in INFO server: {info}"))
}

#[test]
fn starts_answers_and_stores() {
    let mut redis = RedisServer::start();
    assert!(redis.is_running());
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/0", redis.port()));
    assert!(redis.dir().is_dir());
    assert_eq!(redis.cli(&["PING"]), "PONG");
    assert_eq!(redis.cli(&["SET", "k", "v"]), "OK");
    assert_eq!(redis.cli(&["GET", "k"]), "v");
    // Error replies come back as output.
    assert!(redis.cli(&["NOSUCHCOMMAND"]).starts_with("ERR"));
    // No persistence configured.
    assert_eq!(redis.cli(&["CONFIG", "GET", "save"]), "save");
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "appendonly"]),
        "appendonly\nno"
    );
}

#[test]
fn appendonly_keeps_a_key_across_kill_and_restart() {
    let mut redis = RedisServer::start_with(Options {
        appendonly: true,
        ..Options::default()
    });
    let port = redis.port();
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "appendfsync"]),
        "appendfsync\nalways"
    );
    assert_eq!(redis.cli(&["SET", "kept", "yes"]), "OK");
    let before = pid(&redis);

    redis.kill();
    assert!(!redis.is_running());
    assert!(
        redis.dir().join("appendonlydir").is_dir(),
        "no AOF in {}",
        redis.dir().display()
    );
    redis.kill(); // a second kill is harmless

    redis.restart();
    assert!(redis.is_running());
    assert_eq!(redis.port(), port);
    assert_ne!(pid(&redis), before);
    assert_eq!(redis.cli(&["GET", "kept"]), "yes");
}

#[test]
fn without_persistence_a_restart_starts_empty() {
    let mut redis = RedisServer::start();
    assert_eq!(redis.cli(&["SET", "gone", "soon"]), "OK");
    redis.kill();
    redis.restart();
    assert_eq!(redis.cli(&["EXISTS", "gone"]), "0");
}

#[test]
fn restart_of_a_running_server_kills_it_first() {
    let mut redis = RedisServer::start();
    let before = pid(&redis);
    redis.restart();
    assert_ne!(pid(&redis), before);
    assert!(!Path::new(&format!("/proc/{before}")).exists());
}

#[test]
fn a_password_is_required_and_given() {
    let redis = RedisServer::start_with(Options {
        password: Some("s3cret".into()),
        ..Options::default()
    });
    assert_eq!(
        redis.url(),
        format!("redis://:s3cret@127.0.0.1:{}/0", redis.port())
    );
    assert_eq!(redis.cli(&["PING"]), "PONG");
    assert_eq!(redis.cli(&["SET", "k", "v"]), "OK");

    let port = redis.port().to_string();
    let anonymous = process::redis_cli(&["-h", "127.0.0.1", "-p", &port, "GET", "k"]);
    let said = String::from_utf8_lossy(&anonymous.stdout);
    assert!(said.starts_with("NOAUTH"), "without a password: {said}");
}

#[test]
fn extra_args_come_last() {
    let redis = RedisServer::start_with(Options {
        extra_args: vec!["--maxmemory".into(), "2mb".into()],
        ..Options::default()
    });
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "maxmemory"]),
        "maxmemory\n2097152"
    );
}

#[test]
fn drop_kills_the_server_and_removes_its_dir() {
    let redis = RedisServer::start();
    let pid = pid(&redis);
    let dir = redis.dir().to_owned();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(redis);
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(!dir.exists());
}

#[test]
fn passwords_are_percent_encoded_in_urls() {
    assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
    assert_eq!(percent_encode("p@ss:w/rd%"), "p%40ss%3Aw%2Frd%25");
}

#[test]
fn a_three_master_cluster_forms_and_serves_every_slot() {
    let cluster = RedisCluster::start(3);
    assert_eq!(cluster.nodes().len(), 3);
    let urls = cluster.urls();
    for (node, url) in cluster.nodes().iter().zip(&urls) {
        assert_eq!(url, &format!("redis://127.0.0.1:{}", node.port()));
        let info = node.cli(&["CLUSTER", "INFO"]);
        for line in [
            "cluster_state:ok",
            "cluster_known_nodes:3",
            "cluster_size:3",
        ] {
            assert!(
                info.lines().any(|l| l.trim() == line),
                "no {line} in {info}"
            );
        }
    }

    // One key in each third of the slots: each lives on another master.
    let keys = ["hello", "qux", "foo"]; // slots 866, 9995, 12182
    let slots: BTreeSet<String> = keys
        .iter()
        .map(|k| cluster.nodes()[0].cli(&["CLUSTER", "KEYSLOT", k]))
        .collect();
    assert_eq!(slots.len(), 3, "slots {slots:?}");
    for key in keys {
        // `-c` follows MOVED redirections to the owning node.
        assert_eq!(
            cluster.nodes()[0].cli(&["-c", "SET", key, &format!("v-{key}")]),
            "OK"
        );
    }
    for key in keys {
        assert_eq!(
            cluster.nodes()[1].cli(&["-c", "GET", key]),
            format!("v-{key}")
        );
    }
    let sizes: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|node| node.cli(&["DBSIZE"]))
        .collect();
    assert_eq!(sizes, ["1", "1", "1"]);
}

#[test]
#[should_panic(expected = "apt-get install -y redis-server")]
fn a_server_that_does_not_start_panics_with_the_hint_and_its_log() {
    let _never = RedisServer::start_with(Options {
        extra_args: vec!["--no-such-directive".into(), "1".into()],
        ..Options::default()
    });
}
