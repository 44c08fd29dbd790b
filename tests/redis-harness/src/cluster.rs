//! A Redis Cluster of masters only.

use std::thread;
use std::time::{Duration, Instant};

use crate::process;
use crate::server::RedisServer;

/// How long the nodes have to agree that the cluster is `ok` after `--cluster create`.
const OK_TIMEOUT: Duration = Duration::from_secs(30);

/// A Redis Cluster of `N` masters and no replicas, every node a [`RedisServer`] in cluster
/// mode (own port and directory). Dropping it kills every node.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes, joins them with `redis-cli --cluster create ...
    /// --cluster-replicas 0` (which spreads the 16384 slots evenly), and waits until every
    /// node's `CLUSTER INFO` says `cluster_state:ok` and knows all the nodes (at most 30 s).
    ///
    /// # Panics
    /// If `masters` is below 3 (Redis Cluster's minimum), a node does not start, or the
    /// cluster does not form in time; with the nodes' log tails.
    pub fn start(masters: usize) -> Self {
        assert!(
            masters >= 3,
            "a Redis Cluster needs at least 3 masters, not {masters}"
        );
        let cluster = Self {
            nodes: (0..masters)
                .map(|_| RedisServer::start_cluster_node())
                .collect(),
        };
        let mut args = vec!["--cluster".to_owned(), "create".into()];
        args.extend(
            cluster
                .nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", node.port())),
        );
        args.extend(["--cluster-replicas", "0", "--cluster-yes"].map(str::to_owned));
        let out = process::redis_cli(&args);
        if !out.status.success() {
            cluster.fail(&format!(
                "`redis-cli {}` failed ({}):\nstdout: {}\nstderr: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        cluster.wait_ok();
        cluster
    }

    /// `redis://127.0.0.1:PORT` for every node, in [`RedisCluster::nodes`] order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port()))
            .collect()
    }

    /// The nodes, each a master with an even share of the slots. A node can be killed and
    /// restarted like any [`RedisServer`]; it rejoins from its `nodes.conf`.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    fn wait_ok(&self) {
        let deadline = Instant::now() + OK_TIMEOUT;
        let known = format!("cluster_known_nodes:{}", self.nodes.len());
        loop {
            let infos: Vec<String> = self
                .nodes
                .iter()
                .map(|node| node.cli(&["CLUSTER", "INFO"]))
                .collect();
            let pending: Vec<String> = self
                .nodes
                .iter()
                .zip(&infos)
                .filter(|(_, info)| !(has_line(info, "cluster_state:ok") && has_line(info, &known)))
                .map(|(node, info)| format!("port {}: {}", node.port(), info.replace("\r\n", " ")))
                .collect();
            if pending.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "not every node reported cluster_state:ok and {known} within {} s:\n{}",
                    OK_TIMEOUT.as_secs(),
                    pending.join("\n")
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn fail(&self, why: &str) -> ! {
        let logs: Vec<String> = self
            .nodes
            .iter()
            .map(|node| {
                format!(
                    "--- node on port {} ({}):\n{}",
                    node.port(),
                    node.dir().display(),
                    node.log_tail()
                )
            })
            .collect();
        panic!("Redis Cluster did not form: {why}\n{}", logs.join("\n"));
    }
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|candidate| candidate.trim() == line)
}
