//! The fake's documented lists (`task/number`, `query_done_task_phones`,
//! `record/{id}`, `record_info`) and its call notification, each body
//! written by `fake_json` from the document's field lists.

use super::json::Rec;
use super::{BLACKLISTED, Fake, Num, answer, error, invalid, ok, refuse};
use crate::json::as_i64;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

/// The (undocumented) call notification: the number row with its dials,
/// plus `task_id`, the grade and the tags of its call record.
pub(super) fn notification(s: &Fake, task_id: &str, n: &Num) -> Value {
    let task = (!s.vary.notify_without_task_id).then_some(task_id);
    let mut row = number_row(s, task, n, true);
    if let Some(t) = task {
        row["task_id"] = json!(t);
    }
    if let Some(r) = n.records.last() {
        let record = s.writer().record(r);
        row["level_name"] = record["level_name"].clone();
        if !r.tags.is_empty() {
            row["tags"] = record["tags"].clone();
        }
    }
    row
}

fn number_row(s: &Fake, task_id: Option<&str>, n: &Num, history: bool) -> Value {
    let w = s.writer();
    if n.foreign {
        return w.foreign_number(n.id);
    }
    let dialed = !n.dials.is_empty();
    let blacklisted = n.status == BLACKLISTED || (dialed && s.vary.is_blacklist.is_some());
    w.number(task_id, n.id, &n.number, n.status, &n.dials, blacklisted, history)
}

pub(super) fn numbers(s: &Fake, query: &[(String, String)]) -> Response {
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let Some(task_id) = get("task_id") else {
        return refuse(s, invalid("task_id", "The task id field is required."));
    };
    let Some(page) = get("page").and_then(|p| p.parse::<i64>().ok()) else {
        return refuse(s, invalid("page", "The page field is required."));
    };
    let history = get("call_history").is_some_and(|v| v != "0");
    let keyword = get("keyword").filter(|k| !k.is_empty());
    let statuses: Vec<i64> =
        (query.iter()).filter(|(k, _)| k == "status[]" || k == "status").filter_map(|(_, v)| v.parse().ok()).collect();
    let tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get(&task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let rows: Vec<Value> = (task.numbers.iter())
        .filter(|n| keyword.as_ref().is_none_or(|k| n.number.contains(k.as_str())))
        .filter(|n| statuses.is_empty() || statuses.contains(&n.status))
        .map(|n| number_row(s, Some(&task.id), n, history))
        .collect();
    ok("获取号码列表成功", s.writer().page(rows, page))
}

pub(super) fn done_phones(s: &Fake, body: Value) -> Response {
    let Some(task_id) = body.get("task_id").and_then(Value::as_str) else {
        return refuse(s, invalid("task_id", "The task id field is required."));
    };
    let Some(page) = body.get("page").and_then(as_i64) else {
        return refuse(s, invalid("page", "The page field is required."));
    };
    let keyword = body.get("keyword").and_then(Value::as_str).filter(|k| !k.is_empty());
    let tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let w = s.writer();
    let mut rows: Vec<Value> = Vec::new();
    for n in task.numbers.iter().filter(|n| keyword.is_none_or(|k| n.number.contains(k))) {
        if n.foreign {
            rows.push(w.foreign_record(task_id));
        }
        rows.extend(n.records.iter().map(|r| w.record(r)));
    }
    // This list answers without the code/status envelope, as documented.
    answer(StatusCode::OK, w.page(rows, page))
}

fn find_record(s: &Fake, record_id: &str) -> Option<(Rec, String)> {
    let tasks = s.tasks.lock().unwrap();
    tasks.values().find_map(|t| {
        let r = t.numbers.iter().flat_map(|n| &n.records).find(|r| r.id == record_id)?;
        Some((r.clone(), t.name.clone()))
    })
}

pub(super) fn record(s: &Fake, record_id: &str) -> Response {
    match find_record(s, record_id) {
        Some((r, _)) => ok("获取任务信息成功", s.writer().record(&r)),
        None => refuse(s, error(404, "通话记录不存在")),
    }
}

pub(super) fn record_info(s: &Fake, task_id: &str, record_id: &str) -> Response {
    let Some((r, name)) = find_record(s, record_id).filter(|(r, _)| r.task_id == task_id) else {
        return refuse(s, error(404, "通话记录不存在"));
    };
    let turn = |seq: i64, notify: &str, question: &str, robot: Option<&str>| {
        json!({ "id": uuid::Uuid::new_v4().to_string(), "record_id": r.id, "task_id": task_id, "notify": notify,
                "callid": r.dial.call_id, "callee": r.number, "question": question, "question_index": seq - 1,
                "answer_content": robot, "sequence": seq, "contents": [], "tags": [] })
    };
    let records = vec![
        turn(1, "enter", "", Some("您好,这里是回访中心")),
        turn(2, "asrprogress_notify", "嗯", None),
        turn(3, "asrmessage_notify", "嗯,你说", Some("感谢您的接听,再见")),
    ];
    let body = json!({
        "records": records,
        "is_intervene_bridge": false,
        "is_intervene_hangup": false,
        "info": { "record": s.writer().record(&r), "task": { "uuid": task_id, "name": name, "call_notify_type": 0 } },
    });
    answer(StatusCode::OK, body)
}
