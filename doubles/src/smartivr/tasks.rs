//! The fake's (assumed) task endpoints — create, add numbers, start, stop,
//! delete numbers — read as JSON values, and what becomes of each dial.

use super::json::{Dial, Rec};
use super::{ANSWERED, Fake, Num, Task, WAITING, error, invalid, lists, ok, refuse};
use crate::fake::{self, Dialed, FakeCall};
use crate::json::{as_i64, code_text, local_time};
use axum::response::Response;
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn create(s: &Fake, body: Value) -> Response {
    if s.dialer.roll_busy() {
        return refuse(s, error(429, "Too Many Attempts."));
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let int = |k: &str| body.get(k).and_then(as_i64);
    let notify_type = int("call_notify_type").unwrap_or(0);
    let notify_url = body.get("call_notify_url").and_then(Value::as_str).unwrap_or_default().to_string();
    if name.is_empty() || name.chars().count() > 64 {
        return refuse(s, invalid("name", "The name must be 1 to 64 characters."));
    }
    if int("group_id").is_none_or(|g| g <= 0) {
        return refuse(s, invalid("group_id", "The selected group id is invalid."));
    }
    if !(0..=2).contains(&notify_type) || (notify_type > 0 && notify_url.is_empty()) {
        return refuse(s, invalid("call_notify_url", "The call notify url is required when notifying."));
    }
    let end_at = match body.get(s.opts.end_time_field.as_str()).and_then(Value::as_str) {
        Some(text) => match local_time(text, s.tz) {
            Some(t) => Some(t),
            None => return refuse(s, invalid(&s.opts.end_time_field, "The end time is not a valid date.")),
        },
        None => None,
    };
    if !s.names.lock().unwrap().insert(name.clone()) {
        return refuse(s, invalid("name", "The name has already been taken."));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut numbers = Vec::new();
    if s.vary.bad_rows {
        let id = s.next_id.fetch_add(1, Relaxed);
        let key = format!("foreign-{id}");
        numbers.push(Num {
            id,
            number: "10000000000".into(),
            status: ANSWERED,
            dials: Vec::new(),
            records: Vec::new(),
            key,
            recycled: 0,
            foreign: true,
        });
    }
    let row = Task {
        id: id.clone(),
        name: name.clone(),
        notify_url,
        notify_type,
        end_at,
        recycle_limit: int("recycle_limit").and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        started: false,
        stopped: false,
        numbers,
    };
    s.tasks.lock().unwrap().insert(id.clone(), row);
    s.dialer.stats.tasks_created.fetch_add(1, Relaxed);
    ok("创建任务成功", json!({ "uuid": id, "name": name, "start": 0 }))
}

fn valid_number(n: &str) -> bool {
    (5..=20).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit())
}

pub(super) fn add_numbers(s: &Arc<Fake>, task_id: &str, body: Value) -> Response {
    let Some(list) = body.get("numbers").and_then(Value::as_array) else {
        return refuse(s, invalid("numbers", "The numbers field is required."));
    };
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let real = task.numbers.iter().filter(|n| !n.foreign).count();
    if list.is_empty() || real + list.len() > s.opts.max_numbers_per_task {
        let msg = format!("A task holds 1 to {} numbers.", s.opts.max_numbers_per_task);
        return refuse(s, invalid("numbers", &msg));
    }
    let (mut invalid_numbers, mut duplicate, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for item in list {
        let number = item.get("number").and_then(code_text).unwrap_or_default();
        if !valid_number(&number) {
            invalid_numbers.push(number);
        } else if task.numbers.iter().any(|x| x.number == number) {
            duplicate.push(number);
        } else {
            let key = format!("{}/{number}", task.id);
            let id = s.next_id.fetch_add(1, Relaxed);
            task.numbers.push(Num {
                id,
                number: number.clone(),
                status: WAITING,
                dials: Vec::new(),
                records: Vec::new(),
                key,
                recycled: 0,
                foreign: false,
            });
            added.push(number);
        }
    }
    if task.started && !task.stopped {
        for number in &added {
            place(s, task, number);
        }
    }
    let data = json!({ "added": added.len(), "invalid": invalid_numbers, "duplicate": duplicate });
    ok("添加号码成功", data)
}

fn place(s: &Arc<Fake>, task: &Task, number: &str) {
    let Some(num) = task.numbers.iter().find(|n| n.number == number && !n.foreign) else { return };
    let key = match num.recycled {
        0 => num.key.clone(),
        n => format!("{}#recycle{n}", num.key),
    };
    let call = FakeCall { key, phone: number.to_string(), not_after: task.end_at };
    let (me, task_id, number) = (s.clone(), task.id.clone(), number.to_string());
    s.dialer.place(call, None, move |d| finish(&me, &task_id, &number, d));
}

pub(super) fn start(s: &Arc<Fake>, task_id: &str) -> Response {
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    if !task.started && !task.stopped {
        task.started = true;
        let waiting: Vec<String> = task.numbers.iter().filter(|n| !n.foreign).map(|n| n.number.clone()).collect();
        for number in &waiting {
            place(s, task, number);
        }
    }
    ok("任务已开始", json!({ "uuid": task_id, "start": 1 }))
}

pub(super) fn stop(s: &Fake, task_id: &str) -> Response {
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    task.stopped = true;
    for n in task.numbers.iter().filter(|n| n.status == WAITING) {
        s.dialer.cancel(&n.key);
    }
    ok("任务已暂停", json!({ "uuid": task_id, "start": 0 }))
}

pub(super) fn delete_numbers(s: &Fake, task_id: &str, body: Value) -> Response {
    let Some(list) = body.get("numbers").and_then(Value::as_array) else {
        return refuse(s, invalid("numbers", "The numbers field is required."));
    };
    let mut tasks = s.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(task_id) else {
        return refuse(s, error(404, "任务不存在"));
    };
    let (mut deleted, mut kept) = (Vec::new(), Vec::new());
    for number in list.iter().filter_map(code_text) {
        let Some(i) = task.numbers.iter().position(|n| n.number == number && !n.foreign) else { continue };
        let n = &task.numbers[i];
        // Only a number not dialed yet can go.
        if n.status == WAITING && n.dials.is_empty() && (!task.started || s.dialer.cancel(&n.key)) {
            task.numbers.remove(i);
            deleted.push(number);
        } else {
            kept.push(number);
        }
    }
    ok("删除号码成功", json!({ "deleted": deleted, "not_deleted": kept }))
}

/// Record what became of a dialed number (a number not dialed stays waiting).
fn finish(s: &Arc<Fake>, task_id: &str, number: &str, d: Dialed) {
    let Some(code) = d.code else { return };
    let (rolled, grade) = match code.strip_prefix('1').filter(|g| !g.is_empty() && !g.starts_with(char::is_numeric)) {
        Some(grade) => (ANSWERED, Some(grade.to_string())),
        None => (code.parse::<i64>().unwrap_or(12), None),
    };
    let status = if s.vary.unknown_status && rolled != ANSWERED { 13 } else { rolled };
    let mut rng = s.dialer.rng(d.seq, 3);
    let ring_ms: i64 = rng.random_range(3_000..15_000);
    let talk_ms: i64 = if status == ANSWERED { rng.random_range(10_000..90_000) } else { 0 };
    let hangup = d.ended_at;
    let call = hangup - chrono::Duration::milliseconds(ring_ms + talk_ms);
    let dial = Dial {
        id: s.history_id.fetch_add(1, Relaxed) as i64,
        call_id: uuid::Uuid::new_v4().to_string(),
        status,
        call_time: call,
        answered_at: (status == ANSWERED).then(|| call + chrono::Duration::milliseconds(ring_ms)),
        hangup_at: hangup,
        bill_ms: talk_ms,
        duration_ms: ring_ms + talk_ms,
    };
    let notify = {
        let mut tasks = s.tasks.lock().unwrap();
        let Some(task) = tasks.get_mut(task_id) else { return };
        let Some(num) = task.numbers.iter_mut().find(|n| n.number == number && !n.foreign) else { return };
        num.status = status;
        if let Some(grade) = grade {
            num.records.push(Rec {
                id: uuid::Uuid::new_v4().to_string(),
                task_id: task_id.to_string(),
                number: number.to_string(),
                dial: dial.clone(),
                grade,
                tags: s.vary.tags.clone(),
            });
        }
        num.dials.push(dial);
        // An unanswered number with redials left goes back to waiting
        // (assumption: the vendor shows a number due for its recycle dial as waiting).
        if matches!(rolled, 3 | 4 | 8 | 12) && num.recycled < task.recycle_limit && !task.stopped {
            num.recycled += 1;
            num.status = WAITING;
            s.dialer.stats.vendor_redials.fetch_add(1, Relaxed);
            place(s, task, number);
            return;
        }
        let wanted = task.notify_type == 2 || (task.notify_type == 1 && status != ANSWERED);
        (wanted && !task.notify_url.is_empty()).then(|| (task.notify_url.clone(), lists::notification(s, task_id, num)))
    };
    if let Some((url, body)) = notify {
        fake::deliver(s.http.clone(), &s.dialer, url, body.to_string().into_bytes(), Vec::new());
    }
}
