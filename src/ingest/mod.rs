//! The inbox processor: stored callbacks are applied from the inbox, page by
//! page, after the HTTP handler (`api::callbacks`) answered the vendor.

mod inbox_gauges;
mod page_apply;
mod page_decision;
mod page_rows;
pub mod processor;
