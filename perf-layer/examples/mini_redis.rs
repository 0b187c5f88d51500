//! A real async server under each subscriber: mini-redis (tokio's example Redis, with
//! `#[instrument]` on its connection handler, its commands and its client calls), its
//! server and 16 clients in one process on loopback, throughput compared in one run.
//!
//! ```sh
//! cargo run --release -p perf-layer --example mini_redis                 # 5 rounds, 1-5 min
//! cargo run --release -p perf-layer --example mini_redis -- --rounds 9 --only floor,perf-layer
//! # keep perf-layer's session (logs/mini-redis/) and read it:
//! cargo run --release -p perf-layer --example mini_redis -- --rounds 1 --only perf-layer --keep logs
//! cargo run --release -p perf-analyze -- report mini-redis --detailed
//! ```
//!
//! Subscribers: `none`; `floor` (registry + an empty layer: a bare `registry()` never
//! frees closed spans, so an empty layer is the honest floor); `fmt` (the fmt layer to
//! `io::sink`, events only, at INFO as a server logs in production: it formats the
//! fields of every span, which are INFO, and filters out mini-redis's per-request events,
//! which are DEBUG); `tracing-chrome` and `perf-layer`, each writing its file to a
//! temporary directory.
//!
//! **Each round is a child process of this binary**, running one subscriber installed
//! with `set_global_default`, as a real program does. A subscriber set per thread
//! (`set_default` on every runtime thread) would measure something else: once any scoped
//! dispatcher exists, every span and event looks its dispatcher up in a thread-local,
//! and tracing's per-callsite interest and maximum level are cached process-wide, so a
//! `none` round after a `perf-layer` round would still pay for enabled callsites. A
//! fresh process also gives every subscriber a fresh allocator and no memory left over
//! from the round before.
//! The parent runs the rounds interleaved (every subscriber once per round, the order
//! rotated each round), kills a child that outlives its time bound, and prints medians.
//!
//! The load: the server on `127.0.0.1:0`, 16 clients on the same tokio multi-thread
//! runtime (one worker per core). Each client first sets its share of 1,024 keys
//! (untimed), then all run the timed mix: 80% `GET`, 20% `SET` of a 16, 64, 256 or
//! 1,024-byte value, keys and sizes from a fixed pseudo-random sequence per client, one
//! request in flight per connection. A round ends when its requests are done or its time
//! bound passes, whichever comes first. Throughput is requests completed over the timed
//! window; CPU is read from `/proc/self/task/*/stat` over the same window, split into
//! the runtime's workers and every other thread (the subscribers' writer threads).
//! Throughput follows the share of the cores the round got, so when other work shares
//! them, CPU per request is the steadier measure of what a subscriber costs; the parent
//! prints both, and the load average at the start and the end.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use perf_layer::record::Record;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Identity, Layer as _, SubscriberExt};

type Error = Box<dyn std::error::Error + Send + Sync>;

const SUBSCRIBERS: [&str; 5] = ["none", "floor", "fmt", "tracing-chrome", "perf-layer"];
const USAGE: &str = "usage: mini_redis [--rounds N] [--requests N] [--clients N] \
                     [--max-seconds S] [--only SUB,SUB...] [--keep DIR]";
/// The runtime's worker threads' name; CPU is split between them and the rest.
const WORKER: &str = "redis-worker";
const KEYS: u64 = 1024;
const VALUE_SIZES: [usize; 4] = [16, 64, 256, 1024];
/// Printable bytes for values: mini-redis's spans and events record them with `Debug`.
static BLOB: [u8; 1024] = blob();

const fn blob() -> [u8; 1024] {
    let mut b = [0u8; 1024];
    let mut i = 0;
    while i < b.len() {
        b[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    b
}

#[derive(Debug, Clone)]
struct Options {
    rounds: usize,
    requests: u64,
    clients: u64,
    max_seconds: u64,
    only: Vec<String>,
    /// Where perf-layer's rounds keep their session (`--keep DIR`), to analyze it after.
    keep: Option<std::path::PathBuf>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("mini_redis: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        rounds: 5,
        requests: 200_000,
        clients: 16,
        max_seconds: 60,
        only: SUBSCRIBERS.iter().map(|s| s.to_string()).collect(),
        keep: None,
    };
    let mut child = None;
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--rounds" => opts.rounds = value()?.parse()?,
            "--requests" => opts.requests = value()?.parse()?,
            "--clients" => opts.clients = value()?.parse()?,
            "--max-seconds" => opts.max_seconds = value()?.parse()?,
            "--only" => opts.only = value()?.split(',').map(str::to_owned).collect(),
            "--keep" => opts.keep = Some(value()?.into()),
            "--child" => child = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}\nsubscribers: {}", SUBSCRIBERS.join(", "));
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    if let Some(bad) = opts
        .only
        .iter()
        .find(|s| !SUBSCRIBERS.contains(&s.as_str()))
    {
        return Err(format!("unknown subscriber {bad:?}: {}", SUBSCRIBERS.join(", ")).into());
    }
    if opts.rounds == 0 || opts.requests == 0 || opts.clients == 0 || opts.max_seconds == 0 {
        return Err(
            format!("rounds, requests, clients and max-seconds must be > 0\n{USAGE}").into(),
        );
    }
    match child {
        Some(sub) => child_round(&sub, &opts),
        None => parent(&opts),
    }
}

/// What one round measured, as the child prints it on one line.
#[derive(Debug, Clone, Default)]
struct Round {
    requests: u64,
    secs: f64,
    timed_out: bool,
    worker_cpu_s: f64,
    other_cpu_s: f64,
    peak_kib: u64,
    output_bytes: u64,
    /// perf-layer only: span lines its `end` line counts, and records it dropped.
    spans: u64,
    dropped: u64,
}

impl Round {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    /// CPU seconds of the whole process per request.
    fn cpu_per_request(&self) -> f64 {
        (self.worker_cpu_s + self.other_cpu_s) / self.requests as f64
    }

    fn to_line(&self) -> String {
        format!(
            "requests={} secs={:.6} timed_out={} worker_cpu_s={:.2} other_cpu_s={:.2} peak_kib={} output_bytes={} spans={} dropped={}",
            self.requests,
            self.secs,
            self.timed_out,
            self.worker_cpu_s,
            self.other_cpu_s,
            self.peak_kib,
            self.output_bytes,
            self.spans,
            self.dropped
        )
    }

    fn from_line(line: &str) -> Result<Self, Error> {
        let mut r = Round::default();
        for pair in line.split_whitespace() {
            let (k, v) = pair.split_once('=').ok_or("malformed round line")?;
            match k {
                "requests" => r.requests = v.parse()?,
                "secs" => r.secs = v.parse()?,
                "timed_out" => r.timed_out = v.parse()?,
                "worker_cpu_s" => r.worker_cpu_s = v.parse()?,
                "other_cpu_s" => r.other_cpu_s = v.parse()?,
                "peak_kib" => r.peak_kib = v.parse()?,
                "output_bytes" => r.output_bytes = v.parse()?,
                "spans" => r.spans = v.parse()?,
                "dropped" => r.dropped = v.parse()?,
                _ => {}
            }
        }
        if r.requests == 0 || r.secs <= 0.0 {
            return Err(format!("round completed no requests: {line:?}").into());
        }
        Ok(r)
    }
}

// --- the parent: interleaved rounds, medians -------------------------------------------

fn parent(opts: &Options) -> Result<(), Error> {
    let exe = std::env::current_exe()?;
    let subs = &opts.only;
    println!(
        "mini-redis 0.4.1 on loopback: {} clients, {} requests a round (80% GET, 20% SET of \
         16-1024 byte values), {} rounds, one child process per round",
        opts.clients, opts.requests, opts.rounds
    );
    println!("load average at the start: {}", load_average());
    let mut results: Vec<Vec<Round>> = vec![Vec::new(); subs.len()];
    for round in 0..opts.rounds {
        let mut line = format!("round {}:", round + 1);
        for k in 0..subs.len() {
            let i = (k + round) % subs.len();
            let r = run_child(&exe, &subs[i], opts)?;
            let _ = write!(
                line,
                " {} {:.0}/s{}",
                subs[i],
                r.rps(),
                if r.timed_out { " (time bound)" } else { "" }
            );
            results[i].push(r);
        }
        println!("{line}");
    }
    println!("load average at the end: {}", load_average());

    let idx = |name: &str| subs.iter().position(|s| s == name);
    // Each subscriber's throughput over `none`'s in the same round, median over rounds.
    let ratios = |i: usize| -> Option<Vec<f64>> {
        let none = idx("none")?;
        Some(
            (0..opts.rounds)
                .map(|r| results[i][r].rps() / results[none][r].rps())
                .collect(),
        )
    };
    println!(
        "\n{:<16} {:>10} {:>9} {:>15} {:>12} {:>12} {:>10} {:>11}",
        "subscriber",
        "req/s",
        "vs none",
        "(rounds)",
        "CPU us/req",
        "other CPU %",
        "peak MiB",
        "output MiB"
    );
    for (i, sub) in subs.iter().enumerate() {
        let rs = &results[i];
        let cpu = median(rs.iter().map(|r| r.cpu_per_request() * 1e6));
        let other = median(rs.iter().map(|r| {
            100.0 * r.other_cpu_s / (r.worker_cpu_s + r.other_cpu_s).max(f64::MIN_POSITIVE)
        }));
        let (vs_none, range) = ratios(i).map_or(("-".into(), "-".into()), |v| {
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            (
                format!("{:.1}%", median(v.into_iter()) * 100.0),
                format!("{:.0}-{:.0}%", lo * 100.0, hi * 100.0),
            )
        });
        println!(
            "{:<16} {:>10.0} {:>9} {:>15} {:>12.1} {:>12.1} {:>10.1} {:>11.1}",
            sub,
            median(rs.iter().map(Round::rps)),
            vs_none,
            range,
            cpu,
            other,
            median(rs.iter().map(|r| r.peak_kib as f64)) / 1024.0,
            median(rs.iter().map(|r| r.output_bytes as f64)) / (1024.0 * 1024.0),
        );
    }

    if let Some(pl) = idx("perf-layer") {
        let rs = &results[pl];
        // The untimed fill made KEYS requests a round.
        let requests: u64 = rs.iter().map(|r| r.requests + KEYS).sum();
        let spans: u64 = rs.iter().map(|r| r.spans).sum();
        println!(
            "\nperf-layer wrote {spans} span lines over its rounds ({:.2} a request) and \
             dropped {}",
            spans as f64 / requests as f64,
            rs.iter().map(|r| r.dropped).sum::<u64>()
        );
    }

    // perf-layer's cost over the floor, and as a share of tracing-chrome's: by throughput
    // (the goal's measure), and by CPU per request (steadier when other work shares the
    // cores; the throughput a CPU-bound server would lose), each a median over rounds.
    let cost = |i: usize, floor: usize, by: fn(&Round) -> f64| {
        median((0..opts.rounds).map(|r| 1.0 - by(&results[i][r]) / by(&results[floor][r])))
    };
    if let (Some(pl), Some(chrome), Some(floor)) =
        (idx("perf-layer"), idx("tracing-chrome"), idx("floor"))
    {
        println!();
        for (what, by) in [
            ("throughput", Round::rps as fn(&Round) -> f64),
            ("by CPU per request", |r: &Round| 1.0 / r.cpu_per_request()),
        ] {
            let (pl_cost, chrome_cost) = (cost(pl, floor, by), cost(chrome, floor, by));
            println!(
                "{what}: lost over the floor, perf-layer {:.1}% (goal: at most 10%), \
                 tracing-chrome {:.1}%; perf-layer's cost is {:.2} of tracing-chrome's \
                 (goal: at most 0.5)",
                pl_cost * 100.0,
                chrome_cost * 100.0,
                pl_cost / chrome_cost
            );
        }
    }
    Ok(())
}

/// Runs one round in a child process; kills it if it outlives its time bound.
fn run_child(exe: &Path, sub: &str, opts: &Options) -> Result<Round, Error> {
    let mut child = Command::new(exe)
        .args(["--child", sub])
        .args(["--requests", &opts.requests.to_string()])
        .args(["--clients", &opts.clients.to_string()])
        .args(["--max-seconds", &opts.max_seconds.to_string()])
        .args(
            opts.keep
                .iter()
                .flat_map(|dir| [std::ffi::OsStr::new("--keep"), dir.as_os_str()]),
        )
        .stdout(Stdio::piped())
        .spawn()?;
    // The time bound, plus room for start-up, the untimed fill and the final flush.
    let limit = Instant::now() + Duration::from_secs(opts.max_seconds + 60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the {sub} round did not finish in time; killed it").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    if !status.success() {
        return Err(format!("the {sub} round failed ({status})").into());
    }
    Round::from_line(out.trim())
}

/// The 1, 5 and 15-minute load averages: other work on the cores skews throughput.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let v: Vec<&str> = l.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// --- the child: one subscriber, one round ------------------------------------------------

fn child_round(sub: &str, opts: &Options) -> Result<(), Error> {
    let tmp = tempfile::tempdir()?;
    let dir = opts.keep.as_deref().unwrap_or(tmp.path());
    let guard: Box<dyn std::any::Any> = match sub {
        "none" => Box::new(()),
        "floor" => {
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(Identity::new()),
            )?;
            Box::new(())
        }
        "fmt" => {
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::sink)
                        .with_filter(LevelFilter::INFO),
                ),
            )?;
            Box::new(())
        }
        "tracing-chrome" => {
            let (layer, guard) = tracing_chrome::ChromeLayerBuilder::new()
                .file(dir.join("trace.json"))
                .build();
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
            Box::new(guard)
        }
        "perf-layer" => {
            let (layer, guard) = perf_layer::PerfLayer::builder()
                .logs_dir(dir)
                .session_id("mini-redis")
                .build()?;
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
            Box::new(guard)
        }
        other => return Err(format!("unknown subscriber {other:?}").into()),
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(WORKER)
        .enable_all()
        .build()?;
    let mut round = runtime.block_on(load(opts))?;
    drop(runtime);
    drop(guard); // flushes the subscriber's file
    round.peak_kib = peak_kib().unwrap_or(0);
    round.output_bytes = dir_bytes(dir)?;
    if sub == "perf-layer" {
        let data = dir.join("mini-redis").join(perf_layer::record::DATA_FILE);
        let text = std::fs::read_to_string(&data)?;
        let last = text.lines().last().unwrap_or_default();
        let Ok(Record::End(end)) = serde_json::from_str(last) else {
            return Err(format!("{} does not end with an end line", data.display()).into());
        };
        (round.spans, round.dropped) = (end.spans, end.dropped);
    }
    println!("{}", round.to_line());
    Ok(())
}

/// Runs the server and the clients; returns what the timed window measured.
async fn load(opts: &Options) -> Result<Round, Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mini_redis::server::run(listener, async move {
        let _ = stopped.await;
    }));

    let mut clients = Vec::new();
    for c in 0..opts.clients {
        let mut client = mini_redis::client::connect(addr).await?;
        let mut key = String::new();
        for k in (c..KEYS).step_by(opts.clients as usize) {
            set_key(&mut key, k);
            client.set(&key, BLOB[..VALUE_SIZES[0]].into()).await?;
        }
        clients.push(client);
    }

    let deadline = Instant::now() + Duration::from_secs(opts.max_seconds);
    let cpu_before = thread_cpu()?;
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let n =
                opts.requests / opts.clients + u64::from((c as u64) < opts.requests % opts.clients);
            tokio::spawn(client_mix(client, c as u64, n, deadline))
        })
        .collect();
    let mut round = Round::default();
    for task in tasks {
        let (done, timed_out) = task.await??;
        round.requests += done;
        round.timed_out |= timed_out;
    }
    round.secs = start.elapsed().as_secs_f64();
    let cpu_after = thread_cpu()?;
    round.worker_cpu_s = cpu_after.0 - cpu_before.0;
    round.other_cpu_s = cpu_after.1 - cpu_before.1;

    let _ = stop.send(());
    server.await??;
    Ok(round)
}

/// One connection's share of the mix; returns the requests done and whether the time
/// bound stopped it.
async fn client_mix(
    mut client: mini_redis::client::Client,
    seed: u64,
    requests: u64,
    deadline: Instant,
) -> Result<(u64, bool), Error> {
    let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut key = String::new();
    for done in 0..requests {
        if Instant::now() >= deadline {
            return Ok((done, true));
        }
        let r = xorshift(&mut rng);
        set_key(&mut key, r % KEYS);
        if (r >> 32) % 10 < 8 {
            client.get(&key).await?;
        } else {
            let size = VALUE_SIZES[(r >> 40) as usize % VALUE_SIZES.len()];
            client.set(&key, BLOB[..size].into()).await?;
        }
    }
    Ok((requests, false))
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn set_key(key: &mut String, k: u64) {
    key.clear();
    let _ = write!(key, "key:{k:04}");
}

/// CPU seconds (user + system) so far of the runtime's worker threads and of every
/// other thread of this process, from `/proc/self/task/*/stat` (clock ticks of 1/100 s).
fn thread_cpu() -> Result<(f64, f64), Error> {
    let (mut workers, mut others) = (0u64, 0u64);
    for task in std::fs::read_dir("/proc/self/task")? {
        let Ok(stat) = std::fs::read_to_string(task?.path().join("stat")) else {
            continue; // the thread exited meanwhile
        };
        // "tid (comm) state ... utime stime ...": utime and stime are fields 14 and 15.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks: u64 = rest.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
            + rest.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
        if comm == WORKER {
            workers += ticks;
        } else {
            others += ticks;
        }
    }
    Ok((workers as f64 / 100.0, others as f64 / 100.0))
}

/// The process's peak resident memory (Linux `VmHWM`), in KiB.
fn peak_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Total size of the files under `dir` (what the subscriber wrote).
fn dir_bytes(dir: &Path) -> Result<u64, Error> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(requests: u64, max_seconds: u64) -> Options {
        Options {
            rounds: 1,
            requests,
            clients: 3,
            max_seconds,
            only: Vec::new(),
            keep: None,
        }
    }

    /// Runs a round; fails the test if it does not end within 20 s.
    fn run_load(opts: &Options) -> Round {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let round = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), load(opts)).await });
        runtime.shutdown_background();
        round.expect("the round ends by itself").unwrap()
    }

    #[test]
    fn a_round_makes_exactly_its_requests_and_reports_them() {
        let round = run_load(&options(100, 60));
        assert_eq!(round.requests, 100);
        assert!(!round.timed_out);
        let back = Round::from_line(&round.to_line()).unwrap();
        assert_eq!(
            (back.requests, back.timed_out, back.secs > 0.0),
            (100, false, true)
        );
    }

    #[test]
    fn a_round_stops_at_its_time_bound() {
        let started = Instant::now();
        let round = run_load(&options(u64::MAX / 2, 1));
        assert!(round.timed_out);
        assert!(round.requests > 0);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_round_line_without_requests_is_an_error() {
        assert!(Round::from_line("requests=0 secs=1.0").is_err());
        assert!(Round::from_line("garbage").is_err());
    }
}
