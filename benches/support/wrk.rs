//! wrk as the HTTP client of the ingest measurement: a C load generator
//! running as its own process, so the client's cost is small and the same
//! for every route measured with it. Each run gets a generated Lua script
//! that pre-formats its requests once per thread (wrk's per-request Lua
//! stays cheap), counts 2xx answers and prints one `RESULT` line with the
//! rate and latency percentiles from wrk's own histogram.

use anyhow::Context as _;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// One request wrk sends: `POST path` with a JSON body and its signature
/// header, or a bare `GET path`.
pub enum Request<'a> {
    Get { path: &'a str },
    Post { path: &'a str, header: (&'a str, &'a str), body: &'a [u8] },
}

/// What one wrk run saw.
#[derive(Debug)]
pub struct WrkRun {
    pub ok: u64,
    pub refused: u64,
    pub socket_errors: u64,
    pub seconds: f64,
    /// Completed requests per second (wrk's figure).
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Fail with the install hint when wrk is missing: the bench installs nothing.
pub fn ensure_installed() -> anyhow::Result<()> {
    let found = std::process::Command::new("wrk").arg("--version").output().is_ok();
    anyhow::ensure!(found, "wrk is missing: apt-get install wrk");
    Ok(())
}

/// The Lua script for `requests`, sent round-robin from a random start.
pub fn script(requests: &[Request<'_>]) -> anyhow::Result<String> {
    let mut lua = String::from("local specs = {\n");
    for r in requests {
        match r {
            Request::Get { path } => writeln!(lua, "{{\"GET\", {}, nil, nil, nil}},", quote(path)?)?,
            Request::Post { path, header: (name, value), body } => {
                let body = std::str::from_utf8(body).context("wrk bodies must be UTF-8")?;
                writeln!(lua, "{{\"POST\", {}, {}, {}, {}}},", quote(path)?, quote(name)?, quote(value)?, quote(body)?)?
            }
        }
    }
    lua.push_str(
        r#"}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  ok = 0; bad = 0
  reqs = {}
  for i, s in ipairs(specs) do
    local headers = {}
    if s[3] then headers["Content-Type"] = "application/json"; headers[s[3]] = s[4] end
    reqs[i] = wrk.format(s[1], s[2], headers, s[5])
  end
  n = math.random(#reqs)
end
function request() n = n % #reqs + 1; return reqs[n] end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("RESULT ok=%d refused=%d socket_errors=%d seconds=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    o, b, e.connect + e.read + e.write + e.timeout, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"#,
    );
    Ok(lua)
}

/// A Lua long string; our bodies never contain its closing bracket.
fn quote(text: &str) -> anyhow::Result<String> {
    anyhow::ensure!(!text.contains("]==]"), "text contains the Lua long-string terminator");
    Ok(format!("[==[{text}]==]"))
}

/// Run wrk with `script` against `base_url` (2 threads, `connections`
/// connections, for `duration`).
pub async fn run(base_url: &str, script_file: &Path, connections: u32, duration: Duration) -> anyhow::Result<WrkRun> {
    let out = tokio::process::Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{}s", duration.as_secs()), "--timeout", "10s", "-s"])
        .arg(script_file)
        .arg(base_url)
        .output()
        .await
        .context("running wrk (apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "wrk failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    let line =
        stdout.lines().find_map(|l| l.strip_prefix("RESULT ")).with_context(|| format!("no RESULT in {stdout}"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let value = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
            .with_context(|| format!("no {name} in `{line}`"))?;
        Ok(value.parse()?)
    };
    Ok(WrkRun {
        ok: field("ok")? as u64,
        refused: field("refused")? as u64,
        socket_errors: field("socket_errors")? as u64,
        seconds: field("seconds")?,
        rate: field("rate")?,
        p50_ms: field("p50_ms")?,
        p99_ms: field("p99_ms")?,
        max_ms: field("max_ms")?,
    })
}
