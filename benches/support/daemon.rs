//! The real release binary (`campaignd run`) as a separate process, as
//! operators run it: started from a written config, ready once it prints its
//! listening line, read through /proc, stopped with SIGTERM. Optionally
//! profiled with `perf record` (see [`Profile`]), or started under a wrapper
//! such as a heap profiler (see [`WRAP_ENV`]).

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const STARTUP_LIMIT: Duration = Duration::from_secs(120);
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(60);
const READY_LINE: &str = "campaignd listening on ";

/// A command the daemon is started under, split on whitespace, e.g.
/// `CAMPAIGND_BENCH_WRAP="heaptrack -o /tmp/e2e"`: the wrapper must run the
/// daemon as its descendant; [`Daemon::pid`] is then the daemon's own pid
/// (found below the wrapper), so RSS and SIGTERM still reach the daemon.
pub const WRAP_ENV: &str = "CAMPAIGND_BENCH_WRAP";

/// The binary cargo built for this bench (release under `cargo bench`).
pub fn exe() -> anyhow::Result<&'static Path> {
    let exe = Path::new(env!("CARGO_BIN_EXE_campaignd"));
    anyhow::ensure!(exe.exists(), "{} is missing: run `cargo build --release` first", exe.display());
    Ok(exe)
}

pub struct Daemon {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`, from the daemon's own listening line.
    pub url: String,
    /// Kept open while the daemon runs: it must not write to a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
    pub log: PathBuf,
    /// How long from spawn to the listening line.
    pub startup: Duration,
}

impl Daemon {
    /// `campaignd --config FILE run`, stderr to `log`; returns once it listens.
    pub async fn start(config_file: &Path, log: &Path) -> anyhow::Result<Daemon> {
        let exe = exe()?;
        let started = Instant::now();
        let wrap: Vec<String> =
            std::env::var(WRAP_ENV).unwrap_or_default().split_whitespace().map(String::from).collect();
        let mut command = match wrap.split_first() {
            Some((wrapper, args)) => {
                let mut command = Command::new(wrapper);
                command.args(args).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        command.arg("--config").arg(config_file).arg("run");
        // The daemon logs as it does for operators (its default filter),
        // unless CAMPAIGND_DAEMON_LOG says otherwise; the bench's own
        // CAMPAIGND_LOG is not passed on.
        command.env_remove("CAMPAIGND_LOG");
        if let Some(filter) = std::env::var_os("CAMPAIGND_DAEMON_LOG") {
            command.env("CAMPAIGND_LOG", filter);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let child_pid = child.id().context("the daemon has no pid")?;
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let ready = async {
            while let Some(line) = stdout.next_line().await? {
                if let Some(url) = line.strip_prefix(READY_LINE) {
                    return Ok(url.trim().to_string());
                }
            }
            anyhow::bail!("the daemon exited before listening: {}", read_tail(log))
        };
        let url =
            tokio::time::timeout(STARTUP_LIMIT, ready).await.with_context(|| format!("no `{READY_LINE}` line"))??;
        let pid = if wrap.is_empty() { child_pid } else { descendant_running(child_pid, exe)? };
        Ok(Daemon { child, pid, url, _stdout: stdout, log: log.to_path_buf(), startup: started.elapsed() })
    }

    /// Fails, with the log's tail, if the daemon has exited.
    pub fn ensure_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!("the daemon exited ({status}): {}", read_tail(&self.log));
        }
        Ok(())
    }

    /// A `Vm*:   1234 kB` line of /proc/<pid>/status, in KiB (`VmHWM`: peak RSS).
    pub fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field} line"))?;
        let kib = line.split_whitespace().nth(1).with_context(|| format!("bad line `{line}`"))?;
        Ok(kib.parse()?)
    }

    /// The daemon's `/metrics`, scraped now.
    pub async fn metrics(&self) -> anyhow::Result<Metrics> {
        let text = reqwest::get(format!("{}/metrics", self.url)).await?.error_for_status()?.text().await?;
        Ok(Metrics(text))
    }

    /// SIGTERM by pid (graceful shutdown), then wait for a clean exit.
    pub async fn stop(mut self) -> anyhow::Result<Duration> {
        let sent = Instant::now();
        let kill = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status()?;
        anyhow::ensure!(kill.success(), "kill -TERM {} failed", self.pid);
        let status =
            tokio::time::timeout(SHUTDOWN_LIMIT, self.child.wait()).await.context("no exit after SIGTERM")??;
        anyhow::ensure!(status.success(), "the daemon exited with {status}: {}", read_tail(&self.log));
        Ok(sent.elapsed())
    }
}

/// `perf record -g` of the daemon while a measurement runs, when the
/// environment names an output prefix: `CAMPAIGND_BENCH_PERF=/tmp/x` writes
/// `/tmp/x.<stage>.perf.data` per profiled stage.
pub struct Profile {
    perf: Option<std::process::Child>,
}

pub const PERF_ENV: &str = "CAMPAIGND_BENCH_PERF";

impl Profile {
    pub fn start(pid: u32, label: &str) -> anyhow::Result<Profile> {
        let Some(base) = std::env::var_os(PERF_ENV) else { return Ok(Profile { perf: None }) };
        let out = PathBuf::from(format!("{}.{label}.perf.data", base.to_string_lossy()));
        let perf = std::process::Command::new("perf")
            .args(["record", "-g", "-F", "499", "-p", &pid.to_string(), "-o"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("perf record (is perf installed?)")?;
        println!("profiling pid {pid} into {}", out.display());
        Ok(Profile { perf: Some(perf) })
    }

    /// SIGINT: perf writes its file and exits.
    pub fn finish(self) -> anyhow::Result<()> {
        if let Some(mut perf) = self.perf {
            std::process::Command::new("kill").args(["-INT", &perf.id().to_string()]).status()?;
            perf.wait()?;
        }
        Ok(())
    }
}

/// The process below `ancestor` whose executable is `exe` (the daemon
/// under a wrapper).
fn descendant_running(ancestor: u32, exe: &Path) -> anyhow::Result<u32> {
    let exe = std::fs::canonicalize(exe)?;
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after ')'.
        stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
    };
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_deref() != Some(exe.as_path()) {
            continue;
        }
        let mut up = parent_of(pid);
        while let Some(p) = up.filter(|&p| p > 1) {
            if p == ancestor {
                return Ok(pid);
            }
            up = parent_of(p);
        }
    }
    anyhow::bail!("no {} process below the wrapper (pid {ancestor})", exe.display())
}

pub fn read_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A scrape of `/metrics` (Prometheus text); empty by default.
#[derive(Default)]
pub struct Metrics(String);

impl Metrics {
    /// The sum of every series of `name` that carries `label` (`key="value"`,
    /// or "" for any): 0 when there is none.
    pub fn sum(&self, name: &str, label: &str) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| {
                let (series_name, labels) = series.split_once('{').unwrap_or((series, ""));
                series_name == name && labels.contains(label)
            })
            .filter_map(|(_, value)| value.parse::<f64>().ok())
            .sum()
    }
}
