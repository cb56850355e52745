//! The real `campaignd` binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_campaignd")
}

/// Run a one-shot CLI command.
pub fn cli(config: &Path, args: &[&str]) -> Output {
    Command::new(bin()).arg("--config").arg(config).args(args).output().expect("run campaignd")
}

/// Start `campaignd run` without waiting for it (stdout piped, for
/// [`Daemon::listening`]).
pub fn launch(config: &Path, stderr: Stdio, level: &str) -> Child {
    run_command(config, stderr, level).spawn().expect("spawn campaignd")
}

fn run_command(config: &Path, stderr: Stdio, level: &str) -> Command {
    let mut command = Command::new(bin());
    command.arg("--config").arg(config).arg("run").env("CAMPAIGND_LOG", level).stdout(Stdio::piped()).stderr(stderr);
    command
}

/// The daemon's log level unless a test asks for another: `TEST_DAEMON_LOG`, else `warn`.
fn default_level() -> String {
    std::env::var("TEST_DAEMON_LOG").unwrap_or_else(|_| "warn".into())
}

pub struct Daemon {
    pub child: Child,
    pub addr: String,
}

impl Daemon {
    /// Start `campaignd run` and wait for its "listening on" line.
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_with_stderr(config, Stdio::inherit())
    }

    /// Like [`Daemon::start`], its log (stderr) written to `log` instead, so
    /// the test can read it afterwards.
    pub fn start_logging_to(config: &Path, log: &Path) -> Daemon {
        let file = std::fs::File::create(log).expect("create daemon log");
        Daemon::start_with_stderr(config, Stdio::from(file))
    }

    /// Like [`Daemon::start_logging_to`], at log level `level` (`CAMPAIGND_LOG`),
    /// for tests that read INFO lines.
    pub fn start_logging_at(config: &Path, log: &Path, level: &str) -> Daemon {
        let file = std::fs::File::create(log).expect("create daemon log");
        Daemon::spawn(config, Stdio::from(file), level)
    }

    /// Like [`Daemon::start`], with `vars` added to the daemon's environment:
    /// the child's only, since the test process's environment is read by
    /// the other tests running beside it and must not change.
    pub fn start_with_env(config: &Path, vars: &[(&str, &str)]) -> Daemon {
        let mut command = run_command(config, Stdio::inherit(), &default_level());
        command.envs(vars.iter().copied());
        Daemon::listening(command.spawn().expect("spawn campaignd"))
    }

    fn start_with_stderr(config: &Path, stderr: Stdio) -> Daemon {
        Daemon::spawn(config, stderr, &default_level())
    }

    fn spawn(config: &Path, stderr: Stdio, level: &str) -> Daemon {
        Daemon::listening(launch(config, stderr, level))
    }

    /// Wait for the "listening on" line of a daemon started with [`launch`].
    pub fn listening(mut child: Child) -> Daemon {
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(a) = line.strip_prefix("campaignd listening on http://") {
                        break a.trim().to_string();
                    }
                }
                _ => {
                    let status = child.wait().expect("wait");
                    panic!("campaignd exited before listening: {status}");
                }
            }
        };
        Daemon { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Send `signal` (a name for kill(1): "STOP", "CONT") to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.expect("run kill").success(), "kill -{signal} {} failed", self.child.id());
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM and wait for the exit code (panics after 30 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY-free: plain kill(2) through the `kill` command keeps this test dependency-light.
        Command::new("kill").arg("-TERM").arg(pid.to_string()).status().expect("kill -TERM");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "campaignd did not exit within 30 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
