//! [`find_attempt_by_call`] for a page of events at once: the same answer
//! for every event, from a fixed number of queries (call ids, tasks, task
//! and phone, vendor and phone) instead of up to three per event. A flood
//! of callbacks for calls we never made is all events of this kind, so this
//! is what a page of them costs.
//!
//! [`find_attempt_by_call`]: super::attempt_match::find_attempt_by_call

use super::StoreError;
use super::raw_sql::{Sql, padded_chunks};
use crate::domain::call_event::CallEvent;
use crate::domain::matching::attempt_for_call;
use entity::{attempt, vendor_task};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeSet, HashMap};

/// Candidates read per (vendor, phone), newest first, as
/// [`super::attempt_match::by_vendor_phone`] reads them.
const PHONE_CANDIDATES: i64 = 20;

/// For each `(vendor, event)`, the attempt [`find_attempt_by_call`] finds:
/// by the vendor's call id, else by the vendor task and the phone where the
/// task is known, else by vendor and phone with its time fence.
///
/// [`find_attempt_by_call`]: super::attempt_match::find_attempt_by_call
pub async fn find_attempts_by_call<C: ConnectionTrait>(
    db: &C,
    events: &[(&str, &CallEvent)],
) -> Result<Vec<Option<attempt::Model>>, StoreError> {
    let mut found: Vec<Option<attempt::Model>> = vec![None; events.len()];
    let vendors = distinct(events.iter().map(|(v, _)| *v));

    let calls = distinct(events.iter().filter_map(|(_, e)| e.external_call_id.as_deref()));
    let by_call = by_call_ids(db, &vendors, &calls).await?;
    for (slot, (vendor, e)) in found.iter_mut().zip(events) {
        let same_call = e.external_call_id.as_deref().and_then(|c| by_call.get(c));
        *slot = same_call.and_then(|list| list.iter().find(|a| a.vendor_id == *vendor)).cloned();
    }

    // The rest need the callee's phone. Where the vendor task is one we
    // recorded, the phone decides within it and nothing else is tried;
    // a task id we never recorded, or none: the phone alone decides.
    let open: Vec<usize> = (0..events.len()).filter(|&i| found[i].is_none() && events[i].1.phone.is_some()).collect();
    let names = distinct(open.iter().filter_map(|&i| events[i].1.vendor_task_id.as_deref()));
    let tasks = task_ids(db, &vendors, &names).await?;
    let (mut by_task, mut by_phone) = (Vec::new(), Vec::new());
    for i in open {
        let (vendor, e) = events[i];
        let named = e.vendor_task_id.as_deref().and_then(|t| tasks.get(t));
        let ids: Vec<i64> = named.into_iter().flatten().filter(|(v, _)| v == vendor).map(|(_, id)| *id).collect();
        match ids.is_empty() {
            false => by_task.push((i, ids)),
            true => by_phone.push(i),
        }
    }

    let task_list = distinct(by_task.iter().flat_map(|(_, ids)| ids.iter().copied()));
    let phones = distinct(by_task.iter().filter_map(|(i, _)| events[*i].1.phone.as_deref()));
    let in_tasks = by_tasks_and_phones(db, &task_list, &phones).await?;
    for (i, ids) in by_task {
        let phone = events[i].1.phone.as_deref();
        // Newest first: a phone appears once per batch.
        let hit =
            in_tasks.iter().find(|a| a.phone.as_deref() == phone && a.vendor_task_id.is_some_and(|t| ids.contains(&t)));
        found[i] = hit.cloned();
    }

    let phones = distinct(by_phone.iter().filter_map(|&i| events[i].1.phone.as_deref()));
    let candidates = newest_by_vendor_phone(db, &vendors, &phones).await?;
    for i in by_phone {
        let (vendor, e) = events[i];
        let list: Vec<&attempt::Model> = e
            .phone
            .as_deref()
            .and_then(|p| candidates.get(p))
            .into_iter()
            .flatten()
            .filter(|a| a.vendor_id == vendor)
            .collect();
        let created: Vec<_> = list.iter().map(|a| a.created_at).collect();
        found[i] = attempt_for_call(&created, e.started_at.or(e.ended_at)).map(|k| list[k].clone());
    }
    Ok(found)
}

fn distinct<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    items.collect::<BTreeSet<T>>().into_iter().collect()
}

/// Attempts of `vendors` by call id, lowest id first (as one call id
/// should name one attempt, the order only makes a repeat deterministic).
async fn by_call_ids<C: ConnectionTrait>(
    db: &C,
    vendors: &[&str],
    calls: &[&str],
) -> Result<HashMap<String, Vec<attempt::Model>>, StoreError> {
    let mut out: HashMap<String, Vec<attempt::Model>> = HashMap::new();
    for chunk in padded_chunks(calls) {
        let rows = attempt::Entity::find()
            .filter(attempt::Column::VendorId.is_in(vendors.iter().copied()))
            .filter(attempt::Column::ExternalCallId.is_in(chunk))
            .order_by_asc(attempt::Column::Id)
            .all(db)
            .await?;
        for a in rows {
            if let Some(call) = a.external_call_id.clone() {
                out.entry(call).or_default().push(a);
            }
        }
    }
    Ok(out)
}

/// Our task ids by the vendor's task id: (vendor, our id) per name.
async fn task_ids<C: ConnectionTrait>(
    db: &C,
    vendors: &[&str],
    names: &[&str],
) -> Result<HashMap<String, Vec<(String, i64)>>, StoreError> {
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for chunk in padded_chunks(names) {
        let rows: Vec<(i64, String, Option<String>)> = vendor_task::Entity::find()
            .select_only()
            .column(vendor_task::Column::Id)
            .column(vendor_task::Column::VendorId)
            .column(vendor_task::Column::ExternalTaskId)
            .filter(vendor_task::Column::VendorId.is_in(vendors.iter().copied()))
            .filter(vendor_task::Column::ExternalTaskId.is_in(chunk))
            .into_tuple()
            .all(db)
            .await?;
        for (id, vendor, name) in rows {
            out.entry(name.unwrap_or_default()).or_default().push((vendor, id));
        }
    }
    Ok(out)
}

/// Attempts of the tasks `tasks` to the numbers `phones`, newest first.
async fn by_tasks_and_phones<C: ConnectionTrait>(
    db: &C,
    tasks: &[i64],
    phones: &[&str],
) -> Result<Vec<attempt::Model>, StoreError> {
    let mut out = Vec::new();
    if tasks.is_empty() {
        return Ok(out);
    }
    for task_chunk in padded_chunks(tasks) {
        for phone_chunk in padded_chunks(phones) {
            let rows = attempt::Entity::find()
                .filter(attempt::Column::VendorTaskId.is_in(task_chunk.clone()))
                .filter(attempt::Column::Phone.is_in(phone_chunk))
                .all(db)
                .await?;
            out.extend(rows);
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.id));
    Ok(out)
}

/// Per phone, the newest [`PHONE_CANDIDATES`] attempts of each of
/// `vendors` to it, newest first, in one query per chunk of phones (a
/// window over `ix_attempts_vendor_phone`).
async fn newest_by_vendor_phone<C: ConnectionTrait>(
    db: &C,
    vendors: &[&str],
    phones: &[&str],
) -> Result<HashMap<String, Vec<attempt::Model>>, StoreError> {
    let mut out: HashMap<String, Vec<attempt::Model>> = HashMap::new();
    for chunk in padded_chunks(phones) {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push(
            "SELECT * FROM (SELECT attempts.*, ROW_NUMBER() OVER \
             (PARTITION BY vendor_id, phone ORDER BY id DESC) AS candidate_no FROM attempts WHERE vendor_id IN (",
        );
        list(&mut sql, vendors);
        sql.push(") AND phone IN (");
        list(&mut sql, &chunk);
        sql.push(")) ranked WHERE candidate_no <= ").bind(PHONE_CANDIDATES).push(" ORDER BY id DESC");
        let rows = attempt::Entity::find().from_raw_sql(sql.build()).all(db).await?;
        for a in rows {
            if let Some(phone) = a.phone.clone() {
                out.entry(phone).or_default().push(a);
            }
        }
    }
    Ok(out)
}

fn list(sql: &mut Sql, items: &[&str]) {
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.bind(item.to_string());
    }
}

#[cfg(test)]
#[path = "attempt_match_page_tests.rs"]
mod tests;
