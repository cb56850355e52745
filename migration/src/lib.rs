//! Schema migrations. The same migrations run on SQLite and PostgreSQL, so
//! they only use portable column types and index forms (partial indexes are
//! supported by both).

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_initial;
mod m20261121_000002_vendor_routing;
mod m20261121_000003_compliance;
mod m20261121_000004_multi_instance;
mod m20261202_000005_vendor_boundary;
mod m20261203_000006_inbox_waiting;
mod m20261205_000007_forward_outbox;
mod m20261205_000008_contact_refresh;
mod m20261205_000009_attempt_call_details;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial::Migration),
            Box::new(m20261121_000002_vendor_routing::Migration),
            Box::new(m20261121_000003_compliance::Migration),
            Box::new(m20261121_000004_multi_instance::Migration),
            Box::new(m20261202_000005_vendor_boundary::Migration),
            Box::new(m20261203_000006_inbox_waiting::Migration),
            Box::new(m20261205_000007_forward_outbox::Migration),
            Box::new(m20261205_000008_contact_refresh::Migration),
            Box::new(m20261205_000009_attempt_call_details::Migration),
        ]
    }
}
