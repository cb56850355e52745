//! Contact policy and compliance (issue 4): legal profiles and frequency caps
//! per campaign, the callee's resolved time-zone candidates per contact, what
//! cross-campaign caps need on attempts and dials, and the decision audit.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SQLite takes one change per ALTER TABLE.
async fn add(manager: &SchemaManager<'_>, table: impl IntoIden + Copy + 'static, col: ColumnDef) -> Result<(), DbErr> {
    let mut col = col;
    manager.alter_table(Table::alter().table(table).add_column(&mut col).to_owned()).await
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(*c);
    }
    manager.create_index(stmt).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Comma-separated legal profile names, e.g. `us-reg-f`.
        add(manager, Campaigns::Table, ColumnDef::new(Campaigns::Profiles).text().not_null().default("").take())
            .await?;
        // Frequency caps of the campaign, e.g. `phone:3/24h, case:7/7d`.
        add(manager, Campaigns::Table, ColumnDef::new(Campaigns::Caps).text().not_null().default("").take()).await?;
        // The callee's candidate zones (comma-separated IANA names, the
        // window is their intersection); NULL = the campaign's zone.
        add(manager, Contacts::Table, ColumnDef::new(Contacts::Zones).text().null().take()).await?;
        // How the zones were found: explicit, country, nanp, ...
        add(manager, Contacts::Table, ColumnDef::new(Contacts::ZoneSource).text().null().take()).await?;
        add(manager, Attempts::Table, ColumnDef::new(Attempts::CaseId).text().null().take()).await?;
        // Dials this attempt may make at most (1 + the vendor's own redials),
        // reserved against frequency caps while it is in flight.
        add(manager, Attempts::Table, ColumnDef::new(Attempts::MaxDials).integer().not_null().default(1).take())
            .await?;
        add(manager, Dials::Table, ColumnDef::new(Dials::Intent).text().null().take()).await?;
        // Contacts imported before: their explicit zone is their only candidate.
        manager
            .exec_stmt(
                Query::update()
                    .table(Contacts::Table)
                    .value(Contacts::Zones, Expr::col(Contacts::Timezone))
                    .value(Contacts::ZoneSource, "explicit")
                    .and_where(Expr::col(Contacts::Timezone).is_not_null())
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_attempts_phone_state", Attempts::Table, &[Attempts::Phone, Attempts::State]).await?;
        index(manager, "ix_attempts_case_state", Attempts::Table, &[Attempts::CaseId, Attempts::State]).await?;
        index(manager, "ix_dials_case_time", Dials::Table, &[Dials::CaseId, Dials::DialedAt]).await?;
        manager
            .create_table(
                Table::create()
                    .table(Decisions::Table)
                    .col(ColumnDef::new(Decisions::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Decisions::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Decisions::CampaignId).big_integer().not_null())
                    .col(ColumnDef::new(Decisions::ContactId).big_integer().null())
                    .col(ColumnDef::new(Decisions::Phone).text().null())
                    .col(ColumnDef::new(Decisions::Zones).text().null())
                    .col(ColumnDef::new(Decisions::AttemptNo).integer().null())
                    .col(ColumnDef::new(Decisions::Kind).text().not_null())
                    .col(ColumnDef::new(Decisions::Reason).text().not_null())
                    .col(ColumnDef::new(Decisions::NextAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Decisions::Detail).json_binary().null())
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_decisions_contact", Decisions::Table, &[Decisions::ContactId, Decisions::Id]).await?;
        index(manager, "ix_decisions_campaign_zones", Decisions::Table, &[Decisions::CampaignId, Decisions::Zones])
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Decisions::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    Profiles,
    Caps,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    Timezone,
    Zones,
    ZoneSource,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    Phone,
    State,
    CaseId,
    MaxDials,
}

#[derive(DeriveIden, Clone, Copy)]
enum Dials {
    Table,
    CaseId,
    DialedAt,
    Intent,
}

#[derive(DeriveIden, Clone, Copy)]
enum Decisions {
    Table,
    Id,
    At,
    CampaignId,
    ContactId,
    Phone,
    Zones,
    AttemptNo,
    Kind,
    Reason,
    NextAt,
    Detail,
}
