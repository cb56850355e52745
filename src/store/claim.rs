//! Claiming due contacts: the one place where concurrency caps and the
//! contact policy (windows, suppression, frequency caps) are checked before
//! an attempt exists. Runs in one write transaction, so the
//! in-flight counts it reads cannot change underneath it.

use super::StoreError;
use super::claim_write as write;
use super::db::{Writer, begin_write};
use super::decisions::{DecisionBuffer, Subject, kind};
use super::in_flight;
use super::vendor_limits;
use crate::domain::campaign::Campaign;
use crate::domain::claim::{self, Candidate, Verdict};
use crate::domain::named_enum::UnknownName;
use crate::domain::phone::{E164, mask_phone};
use crate::domain::routing::{PreviousAttempt, VendorSlot};
use crate::domain::state::ContactState;
use chrono::{DateTime, Utc};
use entity::{campaign, contact};
use rand::SeedableRng;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// An attempt created by a claim, with what the vendor needs to dial it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub attempt_ref: String,
    pub contact_id: i64,
    pub attempt_no: i32,
    pub vendor_id: String,
    pub phone: E164,
    pub case_id: Option<String>,
    /// The callee's candidate zones (`contacts.zones`; None = the campaign's).
    pub zones: Option<String>,
    pub variables: serde_json::Value,
}

#[derive(Debug, Default)]
pub struct ClaimReport {
    pub claimed: Vec<Claimed>,
    /// Due contacts whose window is closed now: moved to their next opening.
    pub deferred: usize,
    pub suppressed: usize,
    /// Due contacts with no window left before the campaign ends.
    pub exhausted: usize,
    /// Attempts in flight once this claim committed, as it counted them
    /// under its locks (database-wide: every instance's).
    pub in_flight: InFlight,
}

/// Attempts in flight in one campaign, and at each vendor it routes to (in
/// every campaign).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub campaign: u64,
    /// The routed vendors in rotation (circuit closed).
    pub vendors: HashMap<String, u64>,
}

/// Claim up to `limit` due contacts of a running campaign, within the free
/// capacity of the campaign cap and of each routed vendor's cap, each one only
/// when the contact policy allows it now (window, margin, suppression, caps,
/// number busy elsewhere); the others are moved to when it will, and every
/// decision is recorded in the audit.
/// `vendor_slots` holds the usable vendors (configured, circuit closed).
///
/// Several instances may claim at once (PostgreSQL): the campaign's row and
/// its vendors' rows are locked first, so caps are counted by one claim at a
/// time; due contacts another transaction holds are skipped (`SKIP LOCKED`),
/// and so are numbers another claim is deciding on right now.
pub async fn claim(
    db: &DatabaseConnection,
    camp: &Campaign,
    vendor_slots: &HashMap<String, VendorSlot>,
    limit: u32,
    lease: &Lease<'_>,
    now: DateTime<Utc>,
) -> Result<ClaimReport, StoreError> {
    let txn = begin_write(db, Writer::Claim).await?;
    let report = claim_in(&txn, camp, vendor_slots, limit, lease, now).await?;
    txn.commit().await?;
    Ok(report)
}

/// Whether a tick gains by claiming in pieces while the vendor answers the
/// piece before (`scheduler`'s pipeline). On SQLite it does: the claim runs
/// on the writer's thread while the request is out, and counting the
/// attempts in flight reads an index alone. On PostgreSQL each claim's count
/// visits every in-flight attempt's row (they change too often for the
/// visibility map), so a second claim per tick costs a count of tens of
/// thousands of rows when caps are high, and measured slower, not faster.
pub fn overlaps_vendor_calls(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Sqlite
}

/// Who dispatches the claimed attempts, and until when nobody else may
/// look them up: a dispatch not written back by then is rescued.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub until: DateTime<Utc>,
}

/// Serialize cap counting with every other claim that shares this campaign
/// or one of these vendors (row locks, taken in one order: campaign, then
/// vendors by id). A no-op on SQLite, whose write transaction is exclusive.
async fn lock_caps<C: ConnectionTrait>(txn: &C, campaign_id: i64, vendor_ids: &[&str]) -> Result<(), StoreError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    campaign::Entity::find_by_id(campaign_id)
        .select_only()
        .column(campaign::Column::Id)
        .lock_exclusive()
        .into_tuple::<i64>()
        .one(txn)
        .await?;
    vendor_limits::lock(txn, vendor_ids).await
}

/// The candidates whose number (and case) no other claim is deciding on:
/// per-number advisory locks held to the end of this transaction, tried
/// without waiting. Busy-number and frequency-cap checks read what the other
/// claims committed, so two campaigns cannot both dial a number the cap
/// allows once. SQLite's exclusive write transaction gives the same.
async fn lock_numbers<C: ConnectionTrait>(
    txn: &C,
    candidates: Vec<contact::Model>,
) -> Result<Vec<contact::Model>, StoreError> {
    if txn.get_database_backend() != DbBackend::Postgres || candidates.is_empty() {
        return Ok(candidates);
    }
    let keys = |c: &contact::Model| {
        let mut k = vec![format!("phone:{}", c.phone)];
        k.extend(c.case_id.as_ref().map(|id| format!("case:{id}")));
        k
    };
    let all: BTreeSet<String> = candidates.iter().flat_map(keys).collect();
    // Keys hold no tab; one text parameter instead of an array type.
    let joined = all.into_iter().collect::<Vec<_>>().join("\t");
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT k FROM unnest(string_to_array($1, E'\\t')) AS k \
         WHERE pg_try_advisory_xact_lock(hashtextextended('campaignd:' || k, 0))",
        [joined.into()],
    );
    let mut locked = HashSet::new();
    for row in txn.query_all_raw(stmt).await? {
        locked.insert(row.try_get::<String>("", "k")?);
    }
    Ok(candidates.into_iter().filter(|c| keys(c).iter().all(|k| locked.contains(k))).collect())
}

/// The campaign's vendors that are usable now, by id, once each.
fn routed_vendors<'a>(camp: &'a Campaign, vendor_slots: &HashMap<String, VendorSlot>) -> Vec<&'a str> {
    let mut routed: Vec<&str> =
        camp.vendors.iter().map(|(id, _)| id.as_str()).filter(|id| vendor_slots.contains_key(*id)).collect();
    routed.sort_unstable();
    routed.dedup();
    routed
}

/// Attempts in flight in `camp` and at each of its usable vendors, read
/// now, outside any claim: for the gauges of a campaign that will not claim
/// again (it completed), which would otherwise keep its last claim's count,
/// taken before the last results landed.
pub async fn in_flight_now(
    db: &DatabaseConnection,
    camp: &Campaign,
    vendor_slots: &HashMap<String, VendorSlot>,
) -> Result<InFlight, StoreError> {
    let (campaign, vendors) = in_flight::count(db, camp.id, &routed_vendors(camp, vendor_slots)).await?;
    Ok(InFlight { campaign, vendors })
}

/// Rounds a claim may take to fill its batch (see [`claim_in`]).
const MAX_ROUNDS: usize = 3;

/// Lock the caps, count what is in flight, then claim in rounds: each round
/// reads as many due contacts as there is room for, lets [`claim::plan`]
/// decide and writes its verdicts. A round whose candidates had to wait
/// (cap, busy number, window margin: moved on by that round) leaves room,
/// and the next round reads that many more; the writes of the rounds before
/// are visible to its facts (same transaction), so a number is still dialed
/// once. Reading `want` rows, not a fixed surplus, keeps the common tick —
/// every candidate dispatchable — at one read of contacts and facts.
async fn claim_in<C: ConnectionTrait>(
    txn: &C,
    camp: &Campaign,
    vendor_slots: &HashMap<String, VendorSlot>,
    limit: u32,
    lease: &Lease<'_>,
    now: DateTime<Utc>,
) -> Result<ClaimReport, StoreError> {
    let mut report = ClaimReport::default();
    let installation = super::installation::id(txn).await?;
    let routed = routed_vendors(camp, vendor_slots);
    lock_caps(txn, camp.id, &routed).await?;
    let (campaign_used, vendor_used) = in_flight::count(txn, camp.id, &routed).await?;
    report.in_flight = InFlight { campaign: campaign_used, vendors: vendor_used };
    let first = claim::capacity(camp, campaign_used, vendor_slots, &report.in_flight.vendors, limit);
    if first.want == 0 {
        return Ok(report);
    }
    // A Send rng: the claim future is awaited across threads.
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut capacity = first;
    for _ in 0..MAX_ROUNDS {
        let want = capacity.want;
        let round = Round { camp, vendor_slots, installation: &installation, lease, now };
        let filled = round.run(txn, capacity, &mut rng, &mut report).await?;
        if !filled.read_all || filled.dispatched >= want {
            break;
        }
        let claimed = u32::try_from(report.claimed.len()).unwrap_or(u32::MAX);
        let in_flight = &report.in_flight;
        capacity =
            claim::capacity(camp, in_flight.campaign, vendor_slots, &in_flight.vendors, limit - claimed.min(limit));
        if capacity.want == 0 {
            break;
        }
    }
    Ok(report)
}

/// What one claim round needs besides its capacity.
struct Round<'a> {
    camp: &'a Campaign,
    vendor_slots: &'a HashMap<String, VendorSlot>,
    installation: &'a str,
    lease: &'a Lease<'a>,
    now: DateTime<Utc>,
}

/// How a round went: whether another may find more to dispatch.
struct RoundFilled {
    dispatched: u64,
    /// Every due contact the round asked for existed and got a verdict:
    /// there may be more behind them.
    read_all: bool,
}

impl Round<'_> {
    /// Read up to `capacity.want` due contacts and their facts, decide,
    /// write the verdicts and their audit; adds to `report` (claimed,
    /// counts, in flight).
    async fn run<C: ConnectionTrait>(
        &self,
        txn: &C,
        capacity: claim::Capacity,
        rng: &mut rand::rngs::StdRng,
        report: &mut ClaimReport,
    ) -> Result<RoundFilled, StoreError> {
        let (camp, now) = (self.camp, self.now);
        let asked = capacity.want;
        let rows = due_batch(txn, camp, asked, now, report).await?;
        let fetched = rows.len() as u64;
        let rows = lock_numbers(txn, rows).await?;
        let mut facts = super::facts::load(txn, &rows, camp.contact_policy.lookback(), now).await?;
        // Each stored number is read once: a dispatched contact carries it on.
        let phones: Vec<Option<E164>> = rows.iter().map(|c| E164::try_from(c.phone.clone()).ok()).collect();
        let candidates: Vec<Candidate<'_>> = rows.iter().zip(&phones).map(|(c, p)| candidate(c, p.is_some())).collect();
        let verdicts = claim::plan(camp, &candidates, &mut facts, capacity, self.vendor_slots, rng, now)?;
        let read_all = fetched == asked && verdicts.len() == rows.len();

        let mut new_attempts = Vec::new();
        let mut decisions = Vec::new();
        let mut deferrals = Vec::new();
        let mut finished = Vec::new();
        let mut claimed = Vec::new();
        for ((c, phone), verdict) in rows.into_iter().zip(phones).zip(verdicts) {
            match verdict {
                Verdict::Corrupt { reason } => {
                    // Out of the due queue, so it is reported once, not every
                    // tick; an operator who repairs the row sets due_at again.
                    super::apply::corrupt_row("contacts", "state", c.id, &reason);
                    write::park(txn, c.id, &reason, now).await?;
                }
                Verdict::Finish { state, kind, reason } => {
                    decisions.push(decision(&c, None, kind, reason.clone(), None));
                    finished.push(write::Finished { id: c.id, state, reason });
                    match state {
                        ContactState::Suppressed => report.suppressed += 1,
                        ContactState::Exhausted => report.exhausted += 1,
                        _ => {}
                    }
                }
                Verdict::Defer { until, kind, reason } => {
                    deferrals.push((c.id, until));
                    decisions.push(decision(&c, None, kind, reason, Some(until)));
                    report.deferred += 1;
                }
                Verdict::Dispatch { vendor_id, attempt_no, max_dials, reason } => {
                    // `candidate` made a number that does not read corrupt: never dispatched.
                    let Some(phone) = phone else { continue };
                    let attempt_ref = super::installation::attempt_ref(self.installation, c.id, attempt_no);
                    decisions.push(decision(&c, Some(attempt_no), kind::DISPATCHED, reason, None));
                    new_attempts.push(write::NewAttempt {
                        contact_id: c.id,
                        attempt_no,
                        vendor_id: vendor_id.clone(),
                        attempt_ref: attempt_ref.clone(),
                        phone: c.phone.clone(),
                        case_id: c.case_id.clone(),
                        max_dials,
                    });
                    claimed.push(Claimed {
                        attempt_ref,
                        contact_id: c.id,
                        attempt_no,
                        vendor_id,
                        phone,
                        case_id: c.case_id,
                        zones: c.zones,
                        variables: c.variables,
                    });
                }
            }
        }
        write::finish(txn, finished, now).await?;
        write::set_due(txn, &deferrals, now).await?;
        let dispatched = claimed.len() as u64;
        let writes = write::RoundWrites { campaign_id: camp.id, attempts: new_attempts, decisions, lease: self.lease };
        write::write_round(txn, writes, now).await?;
        if !claimed.is_empty() {
            report.in_flight.campaign += dispatched;
            for c in &claimed {
                *report.in_flight.vendors.entry(c.vendor_id.clone()).or_default() += 1;
            }
            report.claimed.extend(claimed);
        }
        Ok(RoundFilled { dispatched, read_all })
    }
}

/// The audit row of a verdict about contact `c`.
fn decision(
    c: &contact::Model,
    attempt_no: Option<i32>,
    kind: &'static str,
    reason: String,
    next_at: Option<DateTime<Utc>>,
) -> write::ContactDecision {
    write::ContactDecision { contact_id: c.id, phone: c.phone.clone(), attempt_no, kind, reason, next_at }
}

/// A due contact row as [`claim::plan`] reads it: its state parsed here.
fn candidate(c: &contact::Model, phone_reads: bool) -> Candidate<'_> {
    // A number that is not E.164 (an admin's SQL edit) is corrupt like a bad
    // state: it is reported and never handed to a vendor.
    let state = match phone_reads {
        true => c.state.parse().map_err(|e: UnknownName| e.to_string()),
        false => Err(format!("phone does not read as E.164 (`{}`)", mask_phone(&c.phone))),
    };
    Candidate {
        id: c.id,
        phone: &c.phone,
        case_id: c.case_id.as_deref(),
        zones: c.zones.as_deref(),
        state,
        attempt_seq: c.attempt_seq,
        previous: PreviousAttempt { vendor_id: c.last_vendor_id.clone(), vendor_failed: c.last_vendor_failed },
    }
}

/// Up to `want` due contacts, the next in the due queue once every zone
/// group among them that cannot be dialed now (window closed, or inside the
/// closing margin) has been moved out of it.
///
/// WHY the groups are found among the rows read and not by a scan of every
/// due contact: that scan ran inside the write transaction on every tick,
/// whether a window had closed or not, and read every due row (0.2 s at a
/// million on SQLite, holding the only writer's turn). A closed group
/// surfaces here as soon as one of its contacts reaches the head of the
/// queue, which is the only moment its contacts could have been dialed.
/// Each group found is moved as a whole and the batch read again; a group
/// is moved at most once per claim, so this ends.
async fn due_batch<C: ConnectionTrait>(
    txn: &C,
    camp: &Campaign,
    want: u64,
    now: DateTime<Utc>,
    report: &mut ClaimReport,
) -> Result<Vec<contact::Model>, StoreError> {
    let mut moved: HashSet<Option<String>> = HashSet::new();
    loop {
        let rows = due_contacts(camp.id, now, want)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(txn)
            .await?;
        let groups: BTreeSet<Option<&str>> = rows.iter().map(|c| c.zones.as_deref()).collect();
        let closed: Vec<(Option<String>, claim::ClosedGroup)> = groups
            .into_iter()
            .filter(|z| !moved.contains(&z.map(str::to_string)))
            .filter_map(|z| Some((z.map(str::to_string), claim::closed_group(camp, z, now)?)))
            .collect();
        if closed.is_empty() {
            return Ok(rows);
        }
        let mut decisions = DecisionBuffer::default();
        for (zones, group) in closed {
            defer_group(txn, camp, zones.as_deref(), group, now, &mut decisions, report).await?;
            moved.insert(zones);
        }
        decisions.flush(txn).await?;
    }
}

/// Move every due contact of zone group `zones` to the group's next
/// dispatch instant, or exhaust them when no window is left before the
/// campaign ends: one UPDATE and one audit row for the group, however many
/// contacts it holds.
async fn defer_group<C: ConnectionTrait>(
    txn: &C,
    camp: &Campaign,
    zones: Option<&str>,
    group: claim::ClosedGroup,
    now: DateTime<Utc>,
    decisions: &mut DecisionBuffer,
    report: &mut ClaimReport,
) -> Result<(), StoreError> {
    let group_filter = match zones {
        Some(z) => contact::Column::Zones.eq(z),
        None => contact::Column::Zones.is_null(),
    };
    let mut update = contact::Entity::update_many().col_expr(contact::Column::UpdatedAt, Expr::value(now));
    update = match group.next {
        Some(t) => update.col_expr(contact::Column::DueAt, Expr::value(t)),
        None => update
            .col_expr(contact::Column::State, Expr::value(ContactState::Exhausted.as_str()))
            .col_expr(contact::Column::DueAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(contact::Column::FinishedReason, Expr::value(group.reason.clone())),
    };
    let res = update
        .filter(contact::Column::CampaignId.eq(camp.id))
        .filter(contact::Column::DueAt.lte(now))
        .filter(group_filter)
        .exec(txn)
        .await?;
    let count = res.rows_affected;
    if count > 0 {
        let subject = Subject::ZoneGroup { zones: zones.unwrap_or_default(), count };
        decisions.record(camp.id, subject, group.kind, group.reason, group.next, now);
    }
    match group.next {
        Some(_) => report.deferred += count as usize,
        None => report.exhausted += count as usize,
    }
    Ok(())
}

/// The due-contacts query: a range scan on `ix_contacts_campaign_due`
/// (due_at is NULL for every contact that is not dispatchable).
pub fn due_contacts(campaign_id: i64, now: DateTime<Utc>, limit: u64) -> sea_orm::Select<contact::Entity> {
    contact::Entity::find()
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::DueAt.lte(now))
        .order_by_asc(contact::Column::DueAt)
        .limit(limit)
}

#[cfg(test)]
#[path = "claim_tests.rs"]
mod tests;
