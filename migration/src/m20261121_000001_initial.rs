use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id<T: IntoIden + 'static>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().take()
}
fn text<T: IntoIden + 'static>(col: T) -> ColumnDef {
    ColumnDef::new(col).text().not_null().take()
}
fn text_null<T: IntoIden + 'static>(col: T) -> ColumnDef {
    ColumnDef::new(col).text().null().take()
}
fn ts<T: IntoIden + 'static>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().take()
}
fn ts_null<T: IntoIden + 'static>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}
fn json<T: IntoIden + 'static>(col: T) -> ColumnDef {
    ColumnDef::new(col).json_binary().not_null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Campaigns::Table)
                    .col(id(Campaigns::Id))
                    .col(text(Campaigns::Name).unique_key().take())
                    .col(text(Campaigns::State))
                    .col(text(Campaigns::Timezone))
                    .col(text(Campaigns::Windows))
                    .col(text(Campaigns::BlackoutDates))
                    .col(ts_null(Campaigns::StartsAt))
                    .col(ts_null(Campaigns::EndsAt))
                    .col(ColumnDef::new(Campaigns::MaxConcurrency).integer().not_null())
                    .col(text(Campaigns::Vendors))
                    .col(json(Campaigns::RecallPolicy))
                    .col(text_null(Campaigns::DefaultCountryCode))
                    .col(text_null(Campaigns::ConfigHash))
                    .col(ts(Campaigns::CreatedAt))
                    .col(ts(Campaigns::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .col(id(Contacts::Id))
                    .col(ColumnDef::new(Contacts::CampaignId).big_integer().not_null())
                    .col(text(Contacts::Phone))
                    .col(text_null(Contacts::CaseId))
                    .col(text_null(Contacts::Timezone))
                    .col(json(Contacts::Variables))
                    .col(text(Contacts::State))
                    .col(ts_null(Contacts::DueAt))
                    .col(ColumnDef::new(Contacts::AttemptSeq).integer().not_null().default(0))
                    .col(json(Contacts::RecallHistory))
                    .col(text_null(Contacts::LastDisposition))
                    .col(text_null(Contacts::LastIntent))
                    .col(text_null(Contacts::LastRawCode))
                    .col(text_null(Contacts::FinishedReason))
                    .col(ts(Contacts::CreatedAt))
                    .col(ts(Contacts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Contacts::Table, Contacts::CampaignId)
                            .to(Campaigns::Table, Campaigns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Duplicates within a campaign are skipped at import by this key.
        index(manager, "ux_contacts_campaign_phone", Contacts::Table, &[Contacts::CampaignId, Contacts::Phone], true)
            .await?;
        // "Next due contacts of a campaign" is a range scan on this index:
        // due_at is NULL for every contact that is not dispatchable.
        index(manager, "ix_contacts_campaign_due", Contacts::Table, &[Contacts::CampaignId, Contacts::DueAt], false)
            .await?;
        index(manager, "ix_contacts_campaign_state", Contacts::Table, &[Contacts::CampaignId, Contacts::State], false)
            .await?;
        index(manager, "ix_contacts_phone", Contacts::Table, &[Contacts::Phone], false).await?;

        manager
            .create_table(
                Table::create()
                    .table(VendorTasks::Table)
                    .col(id(VendorTasks::Id))
                    .col(text(VendorTasks::VendorId))
                    .col(ColumnDef::new(VendorTasks::CampaignId).big_integer().not_null())
                    .col(text_null(VendorTasks::ExternalTaskId))
                    .col(text(VendorTasks::State))
                    .col(ColumnDef::new(VendorTasks::Size).integer().not_null())
                    .col(ts_null(VendorTasks::NotAfter))
                    .col(text_null(VendorTasks::Error))
                    .col(ts(VendorTasks::CreatedAt))
                    .col(ts(VendorTasks::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attempts::Table)
                    .col(id(Attempts::Id))
                    .col(ColumnDef::new(Attempts::CampaignId).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::ContactId).big_integer().not_null())
                    .col(ColumnDef::new(Attempts::AttemptNo).integer().not_null())
                    .col(text(Attempts::VendorId))
                    .col(ColumnDef::new(Attempts::VendorTaskId).big_integer().null())
                    .col(text(Attempts::AttemptRef).unique_key().take())
                    .col(text_null(Attempts::ExternalCallId))
                    .col(text(Attempts::State))
                    .col(text_null(Attempts::Disposition))
                    .col(text_null(Attempts::Intent))
                    .col(text_null(Attempts::RawCode))
                    .col(text_null(Attempts::RawIntent))
                    .col(text_null(Attempts::Error))
                    .col(ts(Attempts::CreatedAt))
                    .col(ts_null(Attempts::DispatchedAt))
                    .col(ts_null(Attempts::DeadlineAt))
                    .col(ts_null(Attempts::CompletedAt))
                    .col(ColumnDef::new(Attempts::DurationMs).big_integer().null())
                    .col(ts(Attempts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Attempts::Table, Attempts::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "ux_attempts_contact_no", Attempts::Table, &[Attempts::ContactId, Attempts::AttemptNo], true)
            .await?;
        index(manager, "ix_attempts_campaign_state", Attempts::Table, &[Attempts::CampaignId, Attempts::State], false)
            .await?;
        index(manager, "ix_attempts_vendor_state", Attempts::Table, &[Attempts::VendorId, Attempts::State], false)
            .await?;
        index(manager, "ix_attempts_state_deadline", Attempts::Table, &[Attempts::State, Attempts::DeadlineAt], false)
            .await?;
        index(
            manager,
            "ix_attempts_external_call",
            Attempts::Table,
            &[Attempts::VendorId, Attempts::ExternalCallId],
            false,
        )
        .await?;
        // Invariant 3 enforced by the database itself: a contact can never have
        // two attempts in flight, whatever a buggy or stale instance tries.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_attempts_one_in_flight ON attempts (contact_id) \
                 WHERE state IN ('dispatching', 'dispatched')",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CallbackInbox::Table)
                    .col(id(CallbackInbox::Id))
                    .col(text(CallbackInbox::VendorId))
                    .col(ts(CallbackInbox::ReceivedAt))
                    .col(text_null(CallbackInbox::RemoteAddr))
                    .col(json(CallbackInbox::Headers))
                    .col(ColumnDef::new(CallbackInbox::Body).blob().not_null())
                    .col(text(CallbackInbox::DedupeKey))
                    .col(text(CallbackInbox::State))
                    .col(text_null(CallbackInbox::Error))
                    .col(ColumnDef::new(CallbackInbox::Events).integer().not_null().default(0))
                    .col(ts_null(CallbackInbox::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_inbox_state_id", CallbackInbox::Table, &[CallbackInbox::State, CallbackInbox::Id], false)
            .await?;
        index(
            manager,
            "ix_inbox_vendor_dedupe",
            CallbackInbox::Table,
            &[CallbackInbox::VendorId, CallbackInbox::DedupeKey],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Suppressions::Table)
                    .col(id(Suppressions::Id))
                    .col(text(Suppressions::Phone).unique_key().take())
                    .col(text(Suppressions::Reason))
                    .col(text(Suppressions::Source))
                    .col(ts(Suppressions::CreatedAt))
                    .col(ts_null(Suppressions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Suppressions::Table.into_iden(),
            CallbackInbox::Table.into_iden(),
            Attempts::Table.into_iden(),
            VendorTasks::Table.into_iden(),
            Contacts::Table.into_iden(),
            Campaigns::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(*c);
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    Id,
    Name,
    State,
    Timezone,
    Windows,
    BlackoutDates,
    StartsAt,
    EndsAt,
    MaxConcurrency,
    Vendors,
    RecallPolicy,
    DefaultCountryCode,
    ConfigHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    Id,
    CampaignId,
    Phone,
    CaseId,
    Timezone,
    Variables,
    State,
    DueAt,
    AttemptSeq,
    RecallHistory,
    LastDisposition,
    LastIntent,
    LastRawCode,
    FinishedReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VendorTasks {
    Table,
    Id,
    VendorId,
    CampaignId,
    ExternalTaskId,
    State,
    Size,
    NotAfter,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attempts {
    Table,
    Id,
    CampaignId,
    ContactId,
    AttemptNo,
    VendorId,
    VendorTaskId,
    AttemptRef,
    ExternalCallId,
    State,
    Disposition,
    Intent,
    RawCode,
    RawIntent,
    Error,
    CreatedAt,
    DispatchedAt,
    DeadlineAt,
    CompletedAt,
    DurationMs,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CallbackInbox {
    Table,
    Id,
    VendorId,
    ReceivedAt,
    RemoteAddr,
    Headers,
    Body,
    DedupeKey,
    State,
    Error,
    Events,
    ProcessedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Suppressions {
    Table,
    Id,
    Phone,
    Reason,
    Source,
    CreatedAt,
    ExpiresAt,
}
