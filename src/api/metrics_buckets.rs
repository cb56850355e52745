//! The buckets of each histogram `/metrics` exports. Without buckets the
//! exporter renders a histogram as a summary (quantiles per process), which
//! cannot be aggregated across instances; with them, `histogram_quantile()`
//! over `sum by (le)` works for the whole cluster.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// (metric, bucket upper bounds).
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    // Vendor result callbacks: most arrive within seconds of the call's
    // end; vendors that batch or retry send minutes, at worst an hour late.
    (
        "campaignd_callback_lag_seconds",
        &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0],
    ),
    // Vendor API requests: tens of milliseconds up to their timeout.
    ("campaignd_vendor_request_seconds", &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
    // Callbacks per inbox write (the writer batches up to a few hundred).
    ("campaignd_inbox_batch_rows", &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0]),
    // How long one write transaction held a SQLite file's one writer: a
    // batch of callbacks takes a few milliseconds, a page of results tens.
    ("campaignd_sqlite_write_turn_seconds", &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
];

/// The exporter, with every histogram's buckets.
pub fn builder() -> PrometheusBuilder {
    HISTOGRAMS.iter().fold(PrometheusBuilder::new(), |b, (name, buckets)| {
        // Only an empty bucket list is refused; none above is empty.
        b.set_buckets_for_metric(Matcher::Full((*name).to_string()), buckets).expect("buckets are not empty")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_histogram_renders_as_buckets_not_quantiles() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for (name, _) in HISTOGRAMS {
                metrics::histogram!(*name).record(0.3);
            }
        });
        let text = handle.render();
        for (name, buckets) in HISTOGRAMS {
            assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
            assert!(text.contains(&format!("{name}_bucket{{le=\"+Inf\"}} 1")), "{text}");
            let bounds = text.lines().filter(|l| l.starts_with(&format!("{name}_bucket{{"))).count();
            assert_eq!(bounds, buckets.len() + 1, "{name}: {text}");
        }
        assert!(!text.contains("quantile="), "{text}");
    }

    #[test]
    fn buckets_increase() {
        for (name, buckets) in HISTOGRAMS {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}");
        }
    }
}
