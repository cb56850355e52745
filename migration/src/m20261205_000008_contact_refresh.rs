//! Scheduled contact refresh (issue 16, item 2): one row per firing of a
//! campaign's refresh schedule, written before the firing does any work. Its
//! unique key (campaign, scheduled time) is the lock that makes one
//! instance run a firing when several share the database: the others'
//! inserts conflict and they skip it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let count = |col: ContactRefreshRuns| ColumnDef::new(col).big_integer().not_null().default(0).take();
        manager
            .create_table(
                Table::create()
                    .table(ContactRefreshRuns::Table)
                    .col(ColumnDef::new(ContactRefreshRuns::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ContactRefreshRuns::CampaignId).big_integer().not_null())
                    .col(ColumnDef::new(ContactRefreshRuns::ScheduledFor).timestamp_with_time_zone().not_null())
                    // `schedule`, `missed` (run at start-up within the grace) or `manual`.
                    .col(ColumnDef::new(ContactRefreshRuns::Trigger).text().not_null())
                    .col(ColumnDef::new(ContactRefreshRuns::InstanceId).text().not_null())
                    .col(ColumnDef::new(ContactRefreshRuns::StartedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ContactRefreshRuns::FinishedAt).timestamp_with_time_zone().null())
                    // The file read or the URL (never its credentials).
                    .col(ColumnDef::new(ContactRefreshRuns::Source).text().not_null())
                    // `running`, `ok` or `failed`.
                    .col(ColumnDef::new(ContactRefreshRuns::State).text().not_null())
                    .col(count(ContactRefreshRuns::Rows))
                    .col(count(ContactRefreshRuns::Added))
                    .col(count(ContactRefreshRuns::Duplicates))
                    .col(count(ContactRefreshRuns::Rejected))
                    .col(count(ContactRefreshRuns::Removed))
                    .col(ColumnDef::new(ContactRefreshRuns::Error).text().null())
                    // The rejected rows: [{line, field, message}], the first 1,000.
                    .col(ColumnDef::new(ContactRefreshRuns::RejectedRows).json_binary().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_contact_refresh_runs_firing")
                    .table(ContactRefreshRuns::Table)
                    .col(ContactRefreshRuns::CampaignId)
                    .col(ContactRefreshRuns::ScheduledFor)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ContactRefreshRuns::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ContactRefreshRuns {
    Table,
    Id,
    CampaignId,
    ScheduledFor,
    Trigger,
    InstanceId,
    StartedAt,
    FinishedAt,
    Source,
    State,
    Rows,
    Added,
    Duplicates,
    Rejected,
    Removed,
    Error,
    RejectedRows,
}
