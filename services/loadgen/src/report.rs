//! What every measurement reports: latency percentiles and the machine they were taken on.

use std::time::Duration;

use serde::Serialize;

/// Latencies of one phase, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentiles of `latencies`.
pub fn percentiles(mut latencies: Vec<Duration>) -> Percentiles {
    latencies.sort_unstable();
    let milliseconds = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        milliseconds(latencies[rank - 1])
    };
    let mean = if latencies.is_empty() {
        0.0
    } else {
        latencies
            .iter()
            .map(|latency| milliseconds(*latency))
            .sum::<f64>()
            / latencies.len() as f64
    };
    Percentiles {
        min: at(0.0),
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        max: latencies
            .last()
            .map_or(0.0, |latency| milliseconds(*latency)),
        mean,
    }
}

/// Cores and CPU model, so that figures from different machines are not compared blindly.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {model}")
}

/// The 1-, 5- and 15-minute load averages, since the machine may be busy with other work.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|averages| {
            averages
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Writes `<name>.json` and `<name>.md` into `directory`, prints the Markdown and says where
/// both went.
pub fn write(
    directory: &std::path::Path,
    name: &str,
    json: &impl Serialize,
    markdown: &str,
) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(directory)
        .with_context(|| format!("failed to create {}", directory.display()))?;
    let json_path = directory.join(format!("{name}.json"));
    let markdown_path = directory.join(format!("{name}.md"));
    std::fs::write(&json_path, serde_json::to_string_pretty(json)?)
        .with_context(|| format!("failed to write {}", json_path.display()))?;
    std::fs::write(&markdown_path, markdown)
        .with_context(|| format!("failed to write {}", markdown_path.display()))?;
    print!("{markdown}");
    println!(
        "\nwritten: {} and {}",
        json_path.display(),
        markdown_path.display()
    );
    Ok(())
}
