//! Waiting callbacks cost nothing while they wait (issue 12): a callback
//! that names a call we cannot match yet is looked at again when its
//! `retry_at` comes (a backoff timer) or at once when something it could
//! match is recorded (its vendor task id or call id: `inbox_waits`), instead
//! of on every drain pass.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // When the processor may take the row (again). A row stored without
        // one is due at once (the default is the epoch, in the text form
        // SQLite's timestamps compare in); existing rows are due when received.
        let mut col = ColumnDef::new(CallbackInbox::RetryAt)
            .timestamp_with_time_zone()
            .not_null()
            .default(Expr::cust("'1970-01-01T00:00:00+00:00'"))
            .take();
        manager.alter_table(Table::alter().table(CallbackInbox::Table).add_column(&mut col).to_owned()).await?;
        manager.get_connection().execute_unprepared("UPDATE callback_inbox SET retry_at = received_at").await?;
        // The drain query: pending rows whose time has come, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_inbox_state_retry")
                    .table(CallbackInbox::Table)
                    .col(CallbackInbox::State)
                    .col(CallbackInbox::RetryAt)
                    .col(CallbackInbox::Id)
                    .to_owned(),
            )
            .await?;

        // What a waiting row waits for: `task:<vendor task id>` or
        // `call:<vendor call id>` of one of its vendor's attempts.
        manager
            .create_table(
                Table::create()
                    .table(InboxWaits::Table)
                    .col(ColumnDef::new(InboxWaits::InboxId).big_integer().not_null())
                    .col(ColumnDef::new(InboxWaits::WaitKey).text().not_null())
                    .col(ColumnDef::new(InboxWaits::VendorId).text().not_null())
                    .primary_key(Index::create().col(InboxWaits::InboxId).col(InboxWaits::WaitKey))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_inbox_waits_vendor_key")
                    .table(InboxWaits::Table)
                    .col(InboxWaits::VendorId)
                    .col(InboxWaits::WaitKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(InboxWaits::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("ix_inbox_state_retry").table(CallbackInbox::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(CallbackInbox::Table).drop_column(CallbackInbox::RetryAt).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CallbackInbox {
    Table,
    Id,
    State,
    RetryAt,
}

#[derive(DeriveIden)]
enum InboxWaits {
    Table,
    InboxId,
    WaitKey,
    VendorId,
}
