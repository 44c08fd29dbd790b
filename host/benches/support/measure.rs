//! Batch timing shared by the in-process benchmarks.

use std::time::{Duration, Instant};

/// Per-operation statistics of one measurement.
pub struct Stats {
    pub median_ns: f64,
    pub p99_ns: f64,
    pub ops_per_s: f64,
}

/// Runs `op` in batches of `batch` for about `budget` (after a warm-up of a fifth of it),
/// returning per-op statistics over the batches.
pub async fn measure<F, Fut>(batch: u32, budget: Duration, mut op: F) -> Stats
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()>,
{
    // Warm up.
    let warm = Instant::now();
    let mut i = 0;
    while warm.elapsed() < budget / 5 {
        op(i).await;
        i += 1;
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut total_ops = 0u64;
    while start.elapsed() < budget || samples.len() < 20 {
        let t = Instant::now();
        for _ in 0..batch {
            op(i).await;
            i = i.wrapping_add(1);
        }
        samples.push(t.elapsed().as_nanos() as f64 / f64::from(batch));
        total_ops += u64::from(batch);
    }
    let elapsed = start.elapsed();
    samples.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median_ns: pick(0.5),
        p99_ns: pick(0.99),
        ops_per_s: total_ops as f64 / elapsed.as_secs_f64(),
    }
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
/// and then it only does a short smoke pass.
pub fn budget() -> Duration {
    if std::env::args().any(|a| a == "--bench") {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(50)
    }
}
