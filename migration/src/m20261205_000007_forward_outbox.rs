//! Result forwarding (issue 16): every event to POST to the operator's URL
//! is a row of `forward_outbox`, inserted in the same transaction as the
//! result it reports, so a result is never committed without its event nor
//! an event sent for a result that rolled back. A worker delivers due rows
//! under a lease (one instance at a time per row) and records the outcome.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ts = |c: ForwardOutbox| ColumnDef::new(c).timestamp_with_time_zone().not_null().take();
        let ts_null = |c: ForwardOutbox| ColumnDef::new(c).timestamp_with_time_zone().null().take();
        manager
            .create_table(
                Table::create()
                    .table(ForwardOutbox::Table)
                    .col(ColumnDef::new(ForwardOutbox::Id).big_integer().not_null().auto_increment().primary_key())
                    // The Standard Webhooks `webhook-id`: the receiver's idempotency key.
                    .col(ColumnDef::new(ForwardOutbox::EventId).text().not_null().unique_key())
                    .col(ColumnDef::new(ForwardOutbox::EventType).text().not_null())
                    .col(ColumnDef::new(ForwardOutbox::CampaignId).big_integer().not_null())
                    .col(ColumnDef::new(ForwardOutbox::ContactId).big_integer().null())
                    .col(ColumnDef::new(ForwardOutbox::AttemptId).big_integer().null())
                    // The JSON body, byte for byte what is signed and sent.
                    .col(ColumnDef::new(ForwardOutbox::Payload).text().not_null())
                    .col(ts(ForwardOutbox::CreatedAt))
                    .col(ts(ForwardOutbox::NextAttemptAt))
                    .col(ColumnDef::new(ForwardOutbox::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(ForwardOutbox::LastError).text().null())
                    .col(ColumnDef::new(ForwardOutbox::LastStatus).integer().null())
                    .col(ts_null(ForwardOutbox::DeliveredAt))
                    .col(ts_null(ForwardOutbox::DeadAt))
                    // A replay restarts the dead-letter clock (`max_age` counts from here when set).
                    .col(ts_null(ForwardOutbox::ReplayedAt))
                    .col(ColumnDef::new(ForwardOutbox::LeaseOwner).text().null())
                    .col(ts_null(ForwardOutbox::LeaseExpiresAt))
                    .to_owned(),
            )
            .await?;
        // The worker's claim: undelivered, not dead rows whose time has come.
        manager
            .create_index(
                Index::create()
                    .name("ix_forward_outbox_due")
                    .table(ForwardOutbox::Table)
                    .col(ForwardOutbox::DeliveredAt)
                    .col(ForwardOutbox::DeadAt)
                    .col(ForwardOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ForwardOutbox::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ForwardOutbox {
    Table,
    Id,
    EventId,
    EventType,
    CampaignId,
    ContactId,
    AttemptId,
    Payload,
    CreatedAt,
    NextAttemptAt,
    Attempts,
    LastError,
    LastStatus,
    DeliveredAt,
    DeadAt,
    ReplayedAt,
    LeaseOwner,
    LeaseExpiresAt,
}
