//! Where the daemon's threads spent a measurement, from Linux's counters
//! per thread (`/proc/PID/task/TID/schedstat`: nanoseconds on a CPU, and
//! runnable but waiting for one).
//!
//! WHY: the writer-share figures say who held SQLite's writer, not what the
//! writer's connection did meanwhile. Held, its thread is on a CPU (SQLite
//! working), waiting for one (the machine is full), or neither: waiting for
//! the disk (a commit's fsync) or for the task that holds the turn to send
//! its next statement. The first two are counted here; the third is the
//! rest. (The kernel's own count of disk waits, `delayacct_blkio_ticks`,
//! was tried: it overlapped the other two, and a thread once read 5,400 s of
//! waits in a 90 s run, so it is not used. Running the same stage with
//! `synchronous = normal`, which leaves out the fsyncs, says what they cost.)
//!
//! The writer's connection is found as the busiest `sqlx-sqlite-worker`
//! thread by CPU time: sqlx runs every SQLite connection on a thread of that
//! name, and the writer does every write (10–20× the CPU of any pooled
//! reader in the end-to-end run).

/// One thread's counters, in seconds since it started.
#[derive(Debug, Clone, Default)]
struct Thread {
    name: String,
    on_cpu: f64,
    waiting_for_cpu: f64,
}

/// The counters of every thread of a process, read at one moment.
pub struct ThreadTimes {
    threads: Vec<Thread>,
}

impl ThreadTimes {
    /// Read every thread of `pid` now. Threads started after the process
    /// count from their start, so a read at the end of a run that began
    /// with the process covers the whole run.
    pub fn read(pid: u32) -> anyhow::Result<ThreadTimes> {
        let mut threads = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let dir = task?.path();
            // A thread that ended between the listing and the read is skipped.
            let (Ok(name), Ok(schedstat)) =
                (std::fs::read_to_string(dir.join("comm")), std::fs::read_to_string(dir.join("schedstat")))
            else {
                continue;
            };
            let mut ns = schedstat.split_whitespace().map(|v| v.parse::<f64>().unwrap_or(0.0) / 1e9);
            let (on_cpu, waiting_for_cpu) = (ns.next().unwrap_or(0.0), ns.next().unwrap_or(0.0));
            threads.push(Thread { name: name.trim().to_string(), on_cpu, waiting_for_cpu });
        }
        Ok(ThreadTimes { threads })
    }

    /// The report's words for a run of `seconds`: the writer's thread, then
    /// tokio's workers.
    pub fn describe(&self, seconds: f64) -> String {
        let pct = |s: f64| format!("{:.0} %", 100.0 * s / seconds.max(1e-9));
        let writer = self
            .threads
            .iter()
            .filter(|t| t.name.starts_with("sqlx-sqlite-wor"))
            .max_by(|a, b| a.on_cpu.total_cmp(&b.on_cpu))
            .cloned()
            .unwrap_or_default();
        let off = (seconds - writer.on_cpu - writer.waiting_for_cpu).max(0.0);
        let workers: Vec<&Thread> = self.threads.iter().filter(|t| t.name.starts_with("tokio-rt-worker")).collect();
        let each = |f: fn(&Thread) -> f64| workers.iter().map(|t| f(t)).sum::<f64>() / workers.len().max(1) as f64;
        format!(
            "writer's thread on a CPU {}, waiting for one {}, neither {} (the disk, or the next statement); \
             tokio's {} workers each on a CPU {}, waiting for one {}",
            pct(writer.on_cpu),
            pct(writer.waiting_for_cpu),
            pct(off),
            workers.len(),
            pct(each(|t| t.on_cpu)),
            pct(each(|t| t.waiting_for_cpu)),
        )
    }
}
