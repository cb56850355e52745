//! What the AIRudder fake sends, built as JSON from the field list of
//! "Notification of Call Completion in Workflow (Info Check)" — never from
//! the adapter's types, so the fake can send what the adapter might fail to
//! read — and the [`Variations`] real AIRudder bodies show beyond the
//! document's example.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Departures from the documented example the fake can be told to make (all
/// off by default: the default bodies follow the document). Set them on a
/// running fake with [`FakeControl::set_variations`](super::FakeControl::set_variations).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Variations {
    /// Explicit `null` instead of an absent or initial value: `ring_type`
    /// (its documented initial value) on answered and unclassified calls,
    /// `call_start_time` of unanswered calls, an empty `result_label`,
    /// `NerSlots`, `EventLabel`, `intention_description`, `caller_number`,
    /// and `redail_call` when there was no redial.
    pub nulls: bool,
    /// The optional fields left out: `redail_call` (only `call_times` then
    /// tells how many dials there were), `NerSlots`, `EventLabel`,
    /// `intention_description`, `caller_number`.
    pub omit_optional: bool,
    /// Integers as strings (`"43"`): `id`, `duration`, `call_times`,
    /// `ring_time`, `talk_round`, `repeat_interval`, `repeat_number`.
    pub numbers_as_strings: bool,
    /// Answered calls carry this `result_label` (one no table maps) and say
    /// what happened only in `intention_description` ("Promise to pay") and
    /// `EventLabel` (`PTP`, `Correct_Person`).
    pub unmapped_label: Option<String>,
    /// Each dial is first reported with this undocumented `result` (e.g.
    /// `dialing`), before its documented final value.
    pub progress_result: Option<String>,
    /// Spelling of a cancelled call's `result` and `hangup_type` (e.g.
    /// `canceled`, `Canceled`) instead of `cancelled` / `Canceled`.
    pub cancelled_spelling: Option<String>,
    /// In every webhook with two or more records, the second record's
    /// `result` is a number: a wrong type that must reject that record only.
    pub bad_record: bool,
    /// Webhooks without `task_id`.
    pub no_task_id: bool,
    /// A task's records are held until every call of it has finished, then
    /// sent in one webhook.
    pub one_body_per_task: bool,
    /// Webhooks are not sent (counted in `webhooks_dropped`): the daemon
    /// learns results only from `/detail`.
    pub drop_callbacks: bool,
    /// The second row of every `/detail` listing has `result: 1` (a wrong
    /// type): a lookup cannot tell whether that row is the call it looks for.
    pub bad_detail_row: bool,
    /// `/detail` pages without `total`.
    pub no_total: bool,
    /// `/detail` returns at most this many rows of the page asked for, the
    /// page still offset by the size asked: a server cap that silently
    /// truncates the listing.
    pub page_cap: Option<usize>,
}

/// One dial the fake made for a callee.
#[derive(Debug, Clone)]
pub struct DialDone {
    pub call_id: String,
    /// The fake's outcome code (`E`, `F`, a `ring_type`, `failed`).
    pub code: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
}

/// One callee of a task as the fake tracks it.
#[derive(Debug, Clone)]
pub struct Callee {
    pub id: i64,
    pub callee: String,
    pub case_id: String,
    pub variables: Value,
    /// `created`, `pending`, `finished`, `failed` or `cancelled`.
    pub result: &'static str,
    /// Every dial so far, oldest first; when `result` is `finished` or
    /// `failed` the last one is the record's own.
    pub dials: Vec<DialDone>,
    pub robot_hash: String,
}

/// `result`, `result_label`, `ring_type`, `hangup_type` of a dial's code.
fn fields_of(code: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    match code {
        "E" => ("finished", "E", "normal", "ByCallee"),
        "F" => ("finished", "F", "normal", "ByCallee"),
        "failed" => ("failed", "", "null", "ByRobot"),
        _ => ("finished", "F", "", "ByRobot"),
    }
}

/// Builds records in the account zone `tz`, with the variations in force.
pub struct Builder<'a> {
    pub tz: chrono_tz::Tz,
    pub v: &'a Variations,
}

impl Builder<'_> {
    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format(super::TIME_FORMAT).to_string()
    }

    pub fn int(&self, n: i64) -> Value {
        if self.v.numbers_as_strings { json!(n.to_string()) } else { json!(n) }
    }

    /// `ring_type` "not classified": the enum's `null`, or JSON null.
    fn unclassified(&self) -> Value {
        if self.v.nulls { Value::Null } else { json!("null") }
    }

    /// Put an optional field: absent when omitted, `null` when the
    /// variation says so and there is nothing to say, else `value`.
    fn optional(&self, m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
        if self.v.omit_optional {
            return;
        }
        match value {
            Some(v) => {
                m.insert(key.into(), v);
            }
            None if self.v.nulls => {
                m.insert(key.into(), Value::Null);
            }
            None => {}
        }
    }

    /// One entry of `redail_call[]` (8 fields).
    fn redial(&self, callee: &str, d: &DialDone) -> Value {
        let (_, label, ring, hangup) = fields_of(&d.code);
        let ring = if ring.is_empty() { d.code.as_str() } else { ring };
        json!({
            "call_id": d.call_id,
            "call_start_time": self.local(d.started_at),
            "ring_type": ring,
            "ring_time": self.int(2),
            "hangup_type": hangup,
            "result_label": label,
            "callee_number": callee,
            "caller_number": "+10000000000",
        })
    }

    /// A callee's record (the 22 fields of `details[]`), as it stands, or
    /// with `result` replaced by `progress` while a dial is under way.
    pub fn record(&self, c: &Callee, progress: Option<&str>) -> Value {
        let own = match c.result {
            "finished" | "failed" => c.dials.last(),
            _ => None,
        };
        let earlier = &c.dials[..c.dials.len() - usize::from(own.is_some())];
        let (mut result, mut label, mut hangup) = ("", "", "ByRobot");
        let mut connected = false;
        let ring = match own {
            Some(d) => {
                let (r, l, g, h) = fields_of(&d.code);
                connected = d.code == "E";
                (result, label, hangup) = (r, l, h);
                match g {
                    "" => json!(d.code),
                    "null" => self.unclassified(),
                    _ if connected && self.v.nulls => Value::Null,
                    g => json!(g),
                }
            }
            None => self.unclassified(),
        };
        let cancelled = self.v.cancelled_spelling.as_deref();
        match c.result {
            "cancelled" => {
                result = cancelled.unwrap_or("cancelled");
                hangup = cancelled.unwrap_or("Canceled");
            }
            "created" | "pending" => result = c.result,
            _ => {}
        }
        if let Some(p) = progress {
            result = p;
        }
        let unmapped = self.v.unmapped_label.as_deref().filter(|_| connected);
        let label = match unmapped {
            Some(l) => json!(l),
            None if label.is_empty() && self.v.nulls => Value::Null,
            None => json!(label),
        };
        let talked = own.map_or(0, |d| (d.ended_at - d.started_at).num_seconds().max(1));
        let mut m = Map::new();
        m.insert("id".into(), self.int(c.id));
        m.insert("callee".into(), json!(c.callee));
        m.insert("result".into(), json!(result));
        m.insert("result_label".into(), label);
        m.insert("duration".into(), self.int(if connected { talked } else { 0 }));
        m.insert("hangup_type".into(), json!(hangup));
        m.insert("ring_type".into(), ring);
        m.insert("question_answer".into(), json!([]));
        let slots = connected.then(|| json!({"PaymentMethod": "Transfer", "PaymentTime": "Time_0"}));
        self.optional(&mut m, "NerSlots", slots);
        m.insert("robot_hash".into(), json!(c.robot_hash));
        m.insert("call_id".into(), json!(own.map_or("", |d| d.call_id.as_str())));
        m.insert("call_times".into(), self.int(c.dials.len() as i64));
        match own {
            // "User connected time": only answered calls have one.
            Some(d) if connected => {
                m.insert("call_start_time".into(), json!(self.local(d.started_at)));
            }
            _ if self.v.nulls => {
                m.insert("call_start_time".into(), Value::Null);
            }
            _ => {}
        }
        if let Some(d) = own {
            m.insert("call_end_time".into(), json!(self.local(d.ended_at)));
        }
        m.insert("ring_time".into(), self.int(2));
        m.insert("talk_round".into(), self.int(if connected { 3 } else { 0 }));
        let redials: Vec<Value> = earlier.iter().map(|d| self.redial(&c.callee, d)).collect();
        self.optional(&mut m, "redail_call", (!redials.is_empty()).then(|| json!(redials)));
        let description = match (own, unmapped) {
            (Some(_), Some(_)) => Some(json!("Promise to pay")),
            (Some(_), None) => Some(json!("No Answer")),
            (None, _) => None,
        };
        self.optional(&mut m, "intention_description", description);
        let events = match unmapped {
            Some(_) => Some(json!({"PTP": "action_item_promise_to_pay", "Correct_Person": "identity_correct_person"})),
            None if connected => Some(json!({"A0": "A0", "Correct_Person": "identity_correct_person"})),
            None => None,
        };
        self.optional(&mut m, "EventLabel", events);
        self.optional(&mut m, "caller_number", own.map(|_| json!("+10000000000")));
        m.insert("CaseID".into(), json!(c.case_id));
        m.insert("Variables".into(), c.variables.clone());
        Value::Object(m)
    }
}

/// The task-level fields of a webhook body.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub task_id: String,
    pub task_name: String,
    pub status: String,
    pub created_at: String,
    pub repeat_interval: i64,
    pub repeat_number: i64,
    pub robot_hash: String,
    pub schedule_start_time: String,
    pub schedule_end_time: String,
}

impl Builder<'_> {
    /// A webhook body: the task envelope and `records` as `details[]`.
    pub fn webhook(&self, t: &TaskInfo, mut records: Vec<Value>) -> Value {
        if self.v.bad_record && records.len() >= 2 {
            records[1]["result"] = json!(1);
        }
        let mut body = json!({
            "workflow_id": format!("wf{}", &t.task_id[..8.min(t.task_id.len())]),
            "workflow_name": "campaignd_fake_workflow",
            "nodetask_id": format!("nt{}", &t.task_id[..8.min(t.task_id.len())]),
            "nodetask_name": "Voicebot Call1",
            "task_id": t.task_id,
            "task_name": t.task_name,
            "status": t.status,
            "created_at": t.created_at,
            "repeat_interval": self.int(t.repeat_interval),
            "repeat_number": self.int(t.repeat_number),
            "robot_hash": t.robot_hash,
            "robot_method": "single",
            "sip_line": "FAKE_LINE",
            "schedule_start_time": t.schedule_start_time,
            "schedule_end_time": t.schedule_end_time,
            "details": records,
        });
        if self.v.no_task_id
            && let Some(m) = body.as_object_mut()
        {
            m.remove("task_id");
        }
        body
    }

    /// `data` of a `/detail` answer: page `page` of `size` rows asked for.
    pub fn page(&self, task_id: &str, status: &str, records: &[Value], page: usize, size: usize) -> Value {
        let mut records = records.to_vec();
        if self.v.bad_detail_row && records.len() >= 2 {
            records[1]["result"] = json!(1);
        }
        let skip = page.saturating_sub(1).saturating_mul(size);
        let take = self.v.page_cap.map_or(size, |cap| cap.min(size));
        let rows: Vec<&Value> = records.iter().skip(skip).take(take).collect();
        let mut data = json!({ "task_id": task_id, "status": status, "details": rows });
        if !self.v.no_total {
            data["total"] = json!(records.len());
        }
        data
    }
}
