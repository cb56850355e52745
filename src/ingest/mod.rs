//! The inbox processor: stored callbacks are applied from the inbox, page by
//! page, after the HTTP handler (`api::callbacks`) answered the vendor.

pub mod processor;
