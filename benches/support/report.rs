//! The table of figures: each row is printed as soon as it is measured, and
//! the whole table is printed again and written as markdown at the end.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

pub struct Figure {
    pub name: String,
    pub value: String,
    pub unit: &'static str,
    /// The same-run baseline this figure is read against, if any.
    pub baseline: Option<Baseline>,
    pub note: String,
}

/// What a figure is compared with, measured in the same run on the same
/// machine: these machines are noisy, so ratios hold where absolute figures
/// drift.
pub struct Baseline {
    /// What the baseline is (e.g. "`/healthz`, same client").
    pub name: String,
    pub value: String,
    /// figure ÷ baseline (for rates; for durations the caller passes it so
    /// that the ratio reads the same way: how many times the baseline's time).
    pub ratio: f64,
}

pub struct Report {
    header: Vec<String>,
    figures: Vec<Figure>,
    started: Instant,
}

impl Report {
    /// `postgres`: some rows run on the PostgreSQL server given by `--pg`.
    pub fn new(mode: &str, postgres: bool) -> Report {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        // `cargo bench` builds release; a debug build (`cargo test --bench`) is far slower.
        let build = if cfg!(debug_assertions) { "debug" } else { "release" };
        let mut header = vec![
            format!("campaignd throughput benchmark, {} UTC", chrono::Utc::now().format("%Y-%m-%d %H:%M")),
            format!("mode: {mode}; {cores} core(s); {build} build; SQLite in WAL mode on a fresh file per measurement"),
            "SQLite `synchronous = full` is the daemon's default and is used unless a row says otherwise".to_string(),
        ];
        if postgres {
            header.push(
                "rows naming PostgreSQL run on a fresh database of the --pg server per measurement, dropped afterwards"
                    .to_string(),
            );
        }
        header.push(format!("load average at the start: {}", load_average()));
        for line in &header {
            println!("{line}");
        }
        println!();
        Report { header, figures: Vec::new(), started: Instant::now() }
    }

    /// Record a figure and print it at once.
    pub fn add(&mut self, name: impl Into<String>, value: String, unit: &'static str, note: impl Into<String>) {
        self.push(Figure { name: name.into(), value, unit, baseline: None, note: note.into() });
    }

    /// Record a figure beside its same-run baseline and print both with the
    /// ratio `value / baseline_value`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_vs(
        &mut self,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        baseline_name: impl Into<String>,
        baseline_value: f64,
        note: impl Into<String>,
    ) {
        let ratio = if baseline_value > 0.0 { value / baseline_value } else { f64::NAN };
        let format = |v: f64| if v >= 100.0 { int(v) } else { dec(v) };
        let baseline = Baseline { name: baseline_name.into(), value: format(baseline_value), ratio };
        self.push(Figure {
            name: name.into(),
            value: format(value),
            unit,
            baseline: Some(baseline),
            note: note.into(),
        });
    }

    fn push(&mut self, figure: Figure) {
        let vs = match &figure.baseline {
            Some(b) => format!("vs {} {} ({:.2}×) ", b.value, b.name, b.ratio),
            None => String::new(),
        };
        println!("{:<58} {:>12} {:<12} {vs}{}", figure.name, figure.value, figure.unit, figure.note);
        self.figures.push(figure);
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            let _ = writeln!(out, "{line}  ");
        }
        out.push('\n');
        out.push_str(
            "| measurement | value | unit | same-run baseline | ratio | notes |\n|---|---:|---|---|---:|---|\n",
        );
        for f in &self.figures {
            let (baseline, ratio) = match &f.baseline {
                Some(b) => (format!("{} {}", b.value, b.name), format!("{:.2}×", b.ratio)),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                f.name,
                f.value,
                f.unit,
                baseline.replace('|', "\\|"),
                ratio,
                f.note.replace('|', "\\|")
            );
        }
        let elapsed = dec(self.started.elapsed().as_secs_f64());
        let _ = writeln!(out, "\nTotal benchmark runtime: {elapsed} s; load average at the end: {}", load_average());
        out
    }

    /// Print the complete table and write it to `path`.
    pub fn finish(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        let markdown = self.markdown();
        println!("\n{markdown}");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, markdown)?;
        println!("written to {}", path.display());
        Ok(())
    }
}

/// The 1/5/15-minute load averages: other work on the machine skews every figure.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// `1234567.8` → `"1,234,568"`.
pub fn int(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Two decimals, for milliseconds, seconds and MiB.
pub fn dec(value: f64) -> String {
    format!("{value:.2}")
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
