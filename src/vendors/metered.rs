//! Every call to a vendor's API, measured the same way: its latency in
//! `campaignd_vendor_request_seconds{vendor,op}` and, when it fails,
//! `campaignd_vendor_errors_total{vendor,op,kind,code}` (see
//! [`error_code`](super::error_code) for the bounded `code`). The loops wrap
//! each adapter call in [`metered`], so no operation goes unmeasured.

use super::VendorError;
use super::error_code::code_label;
use std::future::Future;
use std::time::Instant;

/// The vendor API operations, as the `op` label names them.
pub mod op {
    pub const DISPATCH: &str = "dispatch";
    pub const LOOKUP: &str = "lookup";
    pub const CANCEL: &str = "cancel";
    pub const POLL: &str = "poll";
}

/// Await `call` (operation `op` at vendor `vendor_id`), recording how long
/// it took and, if it failed, its error.
pub async fn metered<T>(
    vendor_id: &str,
    op: &'static str,
    call: impl Future<Output = Result<T, VendorError>>,
) -> Result<T, VendorError> {
    let started = Instant::now();
    let result = call.await;
    metrics::histogram!("campaignd_vendor_request_seconds", "vendor" => vendor_id.to_string(), "op" => op)
        .record(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        metrics::counter!(
            "campaignd_vendor_errors_total",
            "vendor" => vendor_id.to_string(),
            "op" => op,
            "kind" => format!("{:?}", e.kind),
            "code" => code_label(e.code),
        )
        .increment(1);
    }
    result
}
