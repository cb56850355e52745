//! Per-attempt call details (issues 15 and 16): where the recording is, the
//! transcript, the ring time, the vendor's call end and our receipt of the
//! result (their difference is the attempt's callback lag), and what the
//! call cost in micro-units (millionths of `cost_currency`'s unit: vendors
//! bill fractions of a cent, which cents would lose and floats would not
//! sum exactly). All nullable: earlier attempts, and vendors that do not
//! report a detail, have none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        let columns = [
            ColumnDef::new(Attempts::RecordingUrl).text().null().take(),
            ColumnDef::new(Attempts::Transcript).text().null().take(),
            ColumnDef::new(Attempts::RingMs).big_integer().null().take(),
            ColumnDef::new(Attempts::VendorEndedAt).timestamp_with_time_zone().null().take(),
            ColumnDef::new(Attempts::ReceivedAt).timestamp_with_time_zone().null().take(),
            ColumnDef::new(Attempts::CostMicros).big_integer().null().take(),
            ColumnDef::new(Attempts::CostCurrency).text().null().take(),
        ];
        for mut col in columns {
            manager.alter_table(Table::alter().table(Attempts::Table).add_column(&mut col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Attempts::RecordingUrl,
            Attempts::Transcript,
            Attempts::RingMs,
            Attempts::VendorEndedAt,
            Attempts::ReceivedAt,
            Attempts::CostMicros,
            Attempts::CostCurrency,
        ] {
            manager.alter_table(Table::alter().table(Attempts::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Attempts {
    Table,
    RecordingUrl,
    Transcript,
    RingMs,
    VendorEndedAt,
    ReceivedAt,
    CostMicros,
    CostCurrency,
}
