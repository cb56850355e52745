//! The contact refresh's rows: its run records (`contact_refresh_runs`,
//! whose unique (campaign, scheduled time) key is the lock of a firing), and
//! the contacts it reads and stops.

use super::StoreError;
use super::decisions::{DecisionBuffer, Subject, kind};
use crate::domain::contact_refresh::OpenContact;
use crate::domain::state::ContactState;
use chrono::{DateTime, Utc};
use entity::{contact, contact_refresh_run as run};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
};

/// States of a run row.
pub const RUNNING: &str = "running";
pub const OK: &str = "ok";
pub const FAILED: &str = "failed";

/// A firing about to run.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub campaign_id: i64,
    pub scheduled_for: DateTime<Utc>,
    pub trigger: &'a str,
    pub instance_id: &'a str,
    pub source: &'a str,
}

/// Insert the run row of a firing, before any of its work: `Some(id)` if
/// this caller inserted it and so runs the firing, `None` if a row for the
/// same campaign and time was already there (another instance runs it, or
/// ran it). The unique index decides, on SQLite and PostgreSQL alike.
pub async fn claim_firing<C: ConnectionTrait>(
    db: &C,
    new: &NewRun<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let row = run::ActiveModel {
        campaign_id: Set(new.campaign_id),
        scheduled_for: Set(new.scheduled_for),
        trigger: Set(new.trigger.to_string()),
        instance_id: Set(new.instance_id.to_string()),
        started_at: Set(now),
        finished_at: Set(None),
        source: Set(new.source.to_string()),
        state: Set(RUNNING.to_string()),
        rows: Set(0),
        added: Set(0),
        duplicates: Set(0),
        rejected: Set(0),
        removed: Set(0),
        error: Set(None),
        rejected_rows: Set(serde_json::json!([])),
        ..Default::default()
    };
    let on_conflict = OnConflict::columns([run::Column::CampaignId, run::Column::ScheduledFor]).do_nothing().to_owned();
    match run::Entity::insert(row).on_conflict(on_conflict).try_insert().exec(db).await? {
        TryInsertResult::Inserted(r) => Ok(Some(r.last_insert_id)),
        TryInsertResult::Conflicted | TryInsertResult::Empty => Ok(None),
    }
}

/// What a finished run recorded.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    pub ok: bool,
    /// The file actually read, when the source is a pattern.
    pub source: Option<String>,
    pub rows: u64,
    pub added: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub removed: u64,
    pub error: Option<String>,
    /// `[{line, field, message}]`.
    pub rejected_rows: serde_json::Value,
}

/// Record how the run `id` ended.
pub async fn finish_run<C: ConnectionTrait>(
    db: &C,
    id: i64,
    outcome: RunOutcome,
    now: DateTime<Utc>,
) -> Result<run::Model, StoreError> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut row = run::ActiveModel {
        id: Set(id),
        finished_at: Set(Some(now)),
        state: Set(if outcome.ok { OK } else { FAILED }.to_string()),
        rows: Set(count(outcome.rows)),
        added: Set(count(outcome.added)),
        duplicates: Set(count(outcome.duplicates)),
        rejected: Set(count(outcome.rejected)),
        removed: Set(count(outcome.removed)),
        error: Set(outcome.error),
        // A run that failed before reading has no list: an empty one.
        rejected_rows: Set(if outcome.rejected_rows.is_null() { serde_json::json!([]) } else { outcome.rejected_rows }),
        ..Default::default()
    };
    if let Some(source) = outcome.source {
        row.source = Set(source);
    }
    Ok(run::Entity::update(row).exec(db).await?)
}

/// The latest firing time recorded for a campaign's schedule (manual runs
/// are not firings of the schedule).
pub async fn last_scheduled<C: ConnectionTrait>(db: &C, campaign_id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(run::Entity::find()
        .filter(run::Column::CampaignId.eq(campaign_id))
        .filter(run::Column::Trigger.ne("manual"))
        .order_by_desc(run::Column::ScheduledFor)
        .one(db)
        .await?
        .map(|r| r.scheduled_for))
}

/// A campaign's runs, newest first.
pub async fn runs<C: ConnectionTrait>(db: &C, campaign_id: i64, limit: u64) -> Result<Vec<run::Model>, StoreError> {
    Ok(run::Entity::find()
        .filter(run::Column::CampaignId.eq(campaign_id))
        .order_by_desc(run::Column::ScheduledFor)
        .order_by_desc(run::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The contacts that are not final: pending, in flight or waiting for a retry.
const OPEN: [ContactState; 3] = [ContactState::Pending, ContactState::InFlight, ContactState::WaitingRetry];

/// The campaign's contacts that are not final yet.
pub async fn open_contacts<C: ConnectionTrait>(db: &C, campaign_id: i64) -> Result<Vec<OpenContact>, StoreError> {
    let rows: Vec<(i64, String)> = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .column(contact::Column::Phone)
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::State.is_in(OPEN.map(ContactState::as_str)))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, phone)| OpenContact { id, phone }).collect())
}

/// Stop the contacts `ids` that are still open, each with an audit row
/// saying why. An in-flight contact is stopped too: its call's result is
/// still recorded when it comes, but settling only moves a contact that is
/// `in_flight` (settle_writes), so it is never dialed again. Returns how many
/// were stopped (one that finished meanwhile is left as it ended).
pub async fn stop_contacts<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    ids: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut stopped = 0;
    for chunk in ids.chunks(500) {
        let open: Vec<(i64, String)> = contact::Entity::find()
            .select_only()
            .column(contact::Column::Id)
            .column(contact::Column::Phone)
            .filter(contact::Column::Id.is_in(chunk.iter().copied()))
            .filter(contact::Column::State.is_in(OPEN.map(ContactState::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        let res = super::contacts::stop_update(campaign_id, reason, now)
            .filter(contact::Column::Id.is_in(open.iter().map(|(id, _)| *id)))
            .filter(contact::Column::State.is_in(OPEN.map(ContactState::as_str)))
            .exec(db)
            .await?;
        stopped += res.rows_affected;
        let mut audit = DecisionBuffer::default();
        for (id, phone) in &open {
            audit.record(
                campaign_id,
                Subject::Contact { id: *id, phone, attempt_no: None },
                kind::STOPPED,
                reason,
                None,
                now,
            );
        }
        audit.flush(db).await?;
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testkit::{memory_db, running_campaign};
    use chrono::TimeZone;

    #[tokio::test]
    async fn a_firing_is_taken_once_and_only_open_contacts_are_stopped() {
        let db = memory_db().await;
        let (_, row, _) = running_campaign(&db, &["+6281100000001", "+6281100000002"]).await;
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 0, 30, 0).unwrap();
        let new =
            NewRun { campaign_id: row.id, scheduled_for: t, trigger: "schedule", instance_id: "a", source: "/d/*.csv" };
        let id = claim_firing(&db, &new, t).await.unwrap().expect("the first caller takes the firing");
        let other = NewRun { instance_id: "b", trigger: "missed", ..new.clone() };
        assert_eq!(claim_firing(&db, &other, t).await.unwrap(), None, "a second caller skips it");
        assert_eq!(last_scheduled(&db, row.id).await.unwrap(), Some(t));

        let open = open_contacts(&db, row.id).await.unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(stop_contacts(&db, row.id, &[open[0].id], "gone", t).await.unwrap(), 1);
        assert_eq!(open_contacts(&db, row.id).await.unwrap(), vec![open[1].clone()]);
        assert_eq!(stop_contacts(&db, row.id, &[open[0].id], "gone", t).await.unwrap(), 0, "a final contact stays");

        let outcome = RunOutcome { ok: false, error: Some("no file".into()), ..RunOutcome::default() };
        let run = finish_run(&db, id, outcome, t).await.unwrap();
        assert_eq!(
            (run.state.as_str(), run.source.as_str(), run.error.as_deref()),
            (FAILED, "/d/*.csv", Some("no file"))
        );
        assert_eq!(run.rejected_rows, serde_json::json!([]));
        assert_eq!(runs(&db, row.id, 10).await.unwrap().len(), 1);
    }
}
