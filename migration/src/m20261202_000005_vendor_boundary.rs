//! The vendor boundary (issue 11): an installation id that makes every
//! attempt reference unique per database, the records of callback bodies
//! that could not be read (kept for audit while the good records apply),
//! and the vendor's own time of each dial beside the time we record.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row, written once with the database's own randomness: two
        // fresh databases (a second deployment, a staging copy sharing a
        // vendor account) never hand a vendor the same reference.
        manager
            .create_table(
                Table::create()
                    .table(Installation::Table)
                    .col(ColumnDef::new(Installation::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(Installation::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        let random = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "substr(md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text), 1, 12)"
            }
            _ => "lower(hex(randomblob(6)))",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO installation (id, created_at) VALUES ({random}, CURRENT_TIMESTAMP)"
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RejectedRecords::Table)
                    .col(ColumnDef::new(RejectedRecords::Id).big_integer().not_null().auto_increment().primary_key())
                    // The inbox row the record came in (None: a poll answer).
                    .col(ColumnDef::new(RejectedRecords::InboxId).big_integer().null())
                    .col(ColumnDef::new(RejectedRecords::Source).text().not_null())
                    // `inbox:<id>:<index>`, or `poll:<sha256 of vendor and record>`: a
                    // record polled again and again is kept once.
                    .col(ColumnDef::new(RejectedRecords::RecordKey).text().not_null().unique_key())
                    .col(ColumnDef::new(RejectedRecords::VendorId).text().not_null())
                    .col(ColumnDef::new(RejectedRecords::RecordIndex).integer().not_null())
                    .col(ColumnDef::new(RejectedRecords::Phone).text().null())
                    .col(ColumnDef::new(RejectedRecords::Reason).text().not_null())
                    // The record as the vendor sent it (cut at 4,000 characters).
                    .col(ColumnDef::new(RejectedRecords::Raw).text().not_null())
                    .col(ColumnDef::new(RejectedRecords::ReceivedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rejected_records_phone")
                    .table(RejectedRecords::Table)
                    .col(RejectedRecords::Phone)
                    .to_owned(),
            )
            .await?;

        // Results that carry neither our reference nor a call id nor a task
        // id (Laaffic's push) are matched on (vendor, phone).
        manager
            .create_index(
                Index::create()
                    .name("ix_attempts_vendor_phone")
                    .table(Attempts::Table)
                    .col(Attempts::VendorId)
                    .col(Attempts::Phone)
                    .to_owned(),
            )
            .await?;

        // What the vendor said the dial's time was; `dialed_at` holds it
        // clamped into [attempt dispatched, result applied].
        let mut col = ColumnDef::new(Dials::VendorDialedAt).timestamp_with_time_zone().null().take();
        manager.alter_table(Table::alter().table(Dials::Table).add_column(&mut col).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_attempts_vendor_phone").table(Attempts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(RejectedRecords::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Installation::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Installation {
    Table,
    Id,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RejectedRecords {
    Table,
    Id,
    InboxId,
    Source,
    RecordKey,
    Raw,
    VendorId,
    RecordIndex,
    Phone,
    Reason,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    VendorId,
    Phone,
}

#[derive(DeriveIden)]
enum Dials {
    Table,
    VendorDialedAt,
}
