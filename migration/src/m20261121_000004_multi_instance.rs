//! Several daemon instances on one PostgreSQL database (issue 5): leases on
//! the attempts an instance is dispatching, the leader lease for the work
//! only one instance may do, and the vendors' shared rate-limit buckets.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SQLite takes one change per ALTER TABLE.
async fn add(manager: &SchemaManager<'_>, table: impl IntoIden + Copy + 'static, col: ColumnDef) -> Result<(), DbErr> {
    let mut col = col;
    manager.alter_table(Table::alter().table(table).add_column(&mut col).to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The instance that claimed a `dispatching` attempt and until when no
        // other instance may look it up (it may still be sending it).
        add(manager, Attempts::Table, ColumnDef::new(Attempts::LeaseOwner).text().null().take()).await?;
        add(
            manager,
            Attempts::Table,
            ColumnDef::new(Attempts::LeaseExpiresAt).timestamp_with_time_zone().null().take(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_attempts_state_lease")
                    .table(Attempts::Table)
                    .col(Attempts::State)
                    .col(Attempts::LeaseExpiresAt)
                    .to_owned(),
            )
            .await?;
        // Named leases: `leader` is held by the instance that runs the sweeps.
        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .col(ColumnDef::new(Leases::Name).text().not_null().primary_key())
                    .col(ColumnDef::new(Leases::Owner).text().not_null())
                    .col(ColumnDef::new(Leases::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Leases::AcquiredAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        // One row per configured vendor: locked by claims (its concurrency cap
        // is counted under the lock) and the token bucket of its rate limit.
        manager
            .create_table(
                Table::create()
                    .table(VendorLimits::Table)
                    .col(ColumnDef::new(VendorLimits::VendorId).text().not_null().primary_key())
                    .col(ColumnDef::new(VendorLimits::Tokens).double().not_null())
                    .col(ColumnDef::new(VendorLimits::RefilledAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(VendorLimits::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Leases::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    State,
    LeaseOwner,
    LeaseExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Leases {
    Table,
    Name,
    Owner,
    ExpiresAt,
    AcquiredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VendorLimits {
    Table,
    VendorId,
    Tokens,
    RefilledAt,
}
