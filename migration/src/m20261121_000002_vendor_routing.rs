//! Vendor adapters (issue 3): redial strategy per campaign, the previous
//! vendor per contact, (task, phone) matching and cancel bookkeeping per
//! attempt, raw vendor answers per task, and one row per real dial
//! (vendor-side redials included) for frequency caps and audit.

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
        add(
            manager,
            Campaigns::Table,
            ColumnDef::new(Campaigns::RedialStrategy).text().not_null().default("failover").take(),
        )
        .await?;
        add(
            manager,
            Campaigns::Table,
            ColumnDef::new(Campaigns::VendorRedial).boolean().not_null().default(false).take(),
        )
        .await?;
        add(manager, Contacts::Table, ColumnDef::new(Contacts::LastVendorId).text().null().take()).await?;
        add(
            manager,
            Contacts::Table,
            ColumnDef::new(Contacts::LastVendorFailed).boolean().not_null().default(false).take(),
        )
        .await?;
        add(manager, Attempts::Table, ColumnDef::new(Attempts::Phone).text().null().take()).await?;
        add(manager, Attempts::Table, ColumnDef::new(Attempts::NotAfter).timestamp_with_time_zone().null().take())
            .await?;
        add(
            manager,
            Attempts::Table,
            ColumnDef::new(Attempts::CancelRequestedAt).timestamp_with_time_zone().null().take(),
        )
        .await?;
        add(manager, VendorTasks::Table, ColumnDef::new(VendorTasks::RawResponse).text().null().take()).await?;
        add(
            manager,
            VendorTasks::Table,
            ColumnDef::new(VendorTasks::PolledAt).timestamp_with_time_zone().null().take(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_attempts_task_phone")
                    .table(Attempts::Table)
                    .col(Attempts::VendorTaskId)
                    .col(Attempts::Phone)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_vendor_tasks_external")
                    .table(VendorTasks::Table)
                    .col(VendorTasks::VendorId)
                    .col(VendorTasks::ExternalTaskId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Dials::Table)
                    .col(ColumnDef::new(Dials::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Dials::AttemptId).big_integer().not_null())
                    .col(ColumnDef::new(Dials::Seq).integer().not_null())
                    .col(ColumnDef::new(Dials::ContactId).big_integer().not_null())
                    .col(ColumnDef::new(Dials::CampaignId).big_integer().not_null())
                    .col(ColumnDef::new(Dials::VendorId).text().not_null())
                    .col(ColumnDef::new(Dials::Phone).text().not_null())
                    .col(ColumnDef::new(Dials::CaseId).text().null())
                    .col(ColumnDef::new(Dials::ExternalCallId).text().null())
                    .col(ColumnDef::new(Dials::DialedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Dials::Disposition).text().not_null())
                    .col(ColumnDef::new(Dials::RawCode).text().null())
                    .col(ColumnDef::new(Dials::VendorRedial).boolean().not_null())
                    .to_owned(),
            )
            .await?;
        // One row per dial of an attempt, so a result applied twice (callback
        // and poll) cannot record its dials twice.
        manager
            .create_index(
                Index::create()
                    .name("ux_dials_attempt_seq")
                    .table(Dials::Table)
                    .col(Dials::AttemptId)
                    .col(Dials::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_dials_phone_time")
                    .table(Dials::Table)
                    .col(Dials::Phone)
                    .col(Dials::DialedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Dials::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    RedialStrategy,
    VendorRedial,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    LastVendorId,
    LastVendorFailed,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    VendorTaskId,
    Phone,
    NotAfter,
    CancelRequestedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VendorTasks {
    Table,
    VendorId,
    ExternalTaskId,
    RawResponse,
    PolledAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Dials {
    Table,
    Id,
    AttemptId,
    Seq,
    ContactId,
    CampaignId,
    VendorId,
    Phone,
    CaseId,
    ExternalCallId,
    DialedAt,
    Disposition,
    RawCode,
    VendorRedial,
}
