//! The bodies the smartivr fake sends, written with `json!` from the field
//! lists of `smartivr-call-records-api.txt` (not from the adapter's types),
//! and the [`Variations`] it can send instead of its documented default.

use super::PAGE_SIZE;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

/// What the fake sends beyond its documented default (everything off).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variations {
    /// Optional fields sent as `null`: `status_str`, `city`, `pro`,
    /// `mobile_type`, `hangupcause`, `is_blacklist` of number rows; `level`
    /// (`level_name` stays), `tag_groups`, and `tags` when a call has none,
    /// in call records; `hangup_code` and `record_file` in dials.
    pub nulls: bool,
    /// Those fields left out instead, and the empty call fields of numbers
    /// not dialed yet too.
    pub omit_optional: bool,
    /// Numbers as strings (`id`, `status`, `bill`, `duration`, `total`,
    /// `last_page`) and `is_blacklist` as `0`/`1`.
    pub loose_types: bool,
    /// Failed dials end with number status 13, which the document does not list.
    pub unknown_status: bool,
    /// Tag names put on every answered call's record (e.g. 脏话, 投诉).
    pub tags: Vec<String>,
    /// The `is_blacklist` every dialed number reports (`1`, `"1"`, `true`).
    pub is_blacklist: Option<Value>,
    /// Pages without `last_page`.
    pub no_last_page: bool,
    /// Pages without `total`.
    pub no_total: bool,
    /// Rows per page instead of the documented 15 (a server cap).
    pub page_size: Option<usize>,
    /// Each task starts with a foreign number whose `status` (and a
    /// foreign call record whose `bill`) has the wrong type (an object).
    pub bad_rows: bool,
    /// Call notifications carry no `task_id`, nor do their dials.
    pub notify_without_task_id: bool,
}

/// One dial of a number, as the fake made it.
#[derive(Debug, Clone)]
pub struct Dial {
    pub id: i64,
    pub call_id: String,
    pub status: i64,
    pub call_time: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub hangup_at: DateTime<Utc>,
    pub bill_ms: i64,
    pub duration_ms: i64,
}

/// The call record of an answered dial.
#[derive(Debug, Clone)]
pub struct Rec {
    pub id: String,
    pub task_id: String,
    pub number: String,
    pub dial: Dial,
    /// `A`..`D`.
    pub grade: String,
    pub tags: Vec<String>,
}

pub fn status_str(status: i64) -> &'static str {
    match status {
        0 => "等待呼叫",
        1 => "呼叫成功",
        2 => "线路故障",
        3 => "拒接",
        4 => "无应答",
        5 => "空号",
        6 => "关机",
        7 => "停机",
        8 => "占线、用户正忙",
        9 => "呼入限制",
        10 => "欠费",
        11 => "黑名单",
        12 => "呼损",
        _ => "未知",
    }
}

fn alias(grade: &str) -> &'static str {
    match grade {
        "A" => "有明确意向",
        "B" => "可能有意向",
        "C" => "可再次跟进",
        _ => "无意向",
    }
}

/// Builds JSON objects field by field under the variations.
pub struct Writer<'a> {
    pub vary: &'a Variations,
    pub tz: Tz,
}

/// A JSON object under construction.
struct Obj<'a> {
    map: Map<String, Value>,
    vary: &'a Variations,
}

impl Obj<'_> {
    /// A field every row has.
    fn put(&mut self, key: &str, v: Value) -> &mut Self {
        self.map.insert(key.into(), v);
        self
    }

    /// A field that may be missing or null: `null` under `nulls`, left out
    /// under `omit_optional`, else `v`.
    fn optional(&mut self, key: &str, v: Value) -> &mut Self {
        if self.vary.omit_optional {
            return self;
        }
        self.put(key, if self.vary.nulls { Value::Null } else { v })
    }

    /// A field without a value yet (a number not dialed): `null`, or left out under `omit_optional`.
    fn empty(&mut self, key: &str) -> &mut Self {
        if self.vary.omit_optional { self } else { self.put(key, Value::Null) }
    }

    fn done(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.map))
    }
}

impl<'a> Writer<'a> {
    fn obj(&self) -> Obj<'a> {
        Obj { map: Map::new(), vary: self.vary }
    }

    pub fn time(&self, t: DateTime<Utc>) -> Value {
        json!(t.with_timezone(&self.tz).format("%Y-%m-%d %H:%M:%S").to_string())
    }

    /// A number, as a string under `loose_types`.
    pub fn int(&self, n: i64) -> Value {
        if self.vary.loose_types { json!(n.to_string()) } else { json!(n) }
    }

    /// One entry of `call_history` (the `auto_call_histories` row).
    pub fn history(&self, task_id: Option<&str>, number_id: i64, number: &str, d: &Dial) -> Value {
        let answered = d.status == 1;
        let mut o = self.obj();
        o.put("id", self.int(d.id)).put("user_id", json!("4d99d91c-f5d9-49da-88da-758977cc58a9"));
        if let Some(t) = task_id {
            o.put("task_id", json!(t));
        }
        o.put("call_id", json!(d.call_id))
            .put("number_id", self.int(number_id))
            .put("number", json!(number))
            .put("call_time", self.time(d.call_time))
            .put("duration", self.int(d.duration_ms))
            .put("hangup_cause", json!(if answered { "NORMAL_CLEARING" } else { "NO_ANSWER" }))
            .optional("hangup_code", if answered { json!("200") } else { Value::Null })
            .put("bill", self.int(d.bill_ms))
            .put("call_status", json!(if answered { "answer" } else { "failed" }))
            .put("status", self.int(d.status))
            .optional(
                "record_file",
                if answered { json!(format!("/mnt/smartivr/recordings/{}.wav", d.call_id)) } else { Value::Null },
            )
            .put("calling_number", json!("17361984317"))
            .put("created_at", self.time(d.hangup_at))
            .put("updated_at", self.time(d.hangup_at))
            .put("status_str", json!(status_str(d.status)))
            .done()
    }

    /// A row of `GET v1/task/number`; `dials` oldest first (the list shows them newest first).
    #[allow(clippy::too_many_arguments)]
    pub fn number(
        &self,
        task_id: Option<&str>,
        id: i64,
        number: &str,
        status: i64,
        dials: &[Dial],
        blacklisted: bool,
        history: bool,
    ) -> Value {
        let mut o = self.obj();
        o.put("number", json!(number))
            .optional("city", json!("南京"))
            .optional("pro", json!("江苏"))
            .optional("mobile_type", json!("联通"))
            .put("id", self.int(id))
            .optional("status_str", json!(status_str(status)));
        match dials.last() {
            Some(d) => {
                o.put("callid", json!(d.call_id))
                    .put("calldate", self.time(d.call_time))
                    .put("bill", self.int(d.bill_ms))
                    .put("duration", self.int(d.duration_ms))
                    .optional("hangupcause", json!(if d.status == 1 { "NORMAL_CLEARING" } else { "NO_ANSWER" }))
                    .put("hangupdate", self.time(d.hangup_at));
                match d.answered_at {
                    Some(t) => o.put("answerdate", self.time(t)),
                    None => o.empty("answerdate"),
                };
            }
            None => {
                for k in ["callid", "calldate", "bill", "duration", "hangupcause", "hangupdate", "answerdate"] {
                    o.empty(k);
                }
            }
        }
        let flag = match (&self.vary.is_blacklist, dials.is_empty()) {
            (Some(v), false) => Some(v.clone()),
            _ if self.vary.loose_types => Some(json!(i64::from(blacklisted))),
            _ => None,
        };
        match flag {
            Some(v) => o.put("is_blacklist", v),
            None => o.optional("is_blacklist", json!(blacklisted)),
        };
        o.put("status", self.int(status));
        if history {
            let rows: Vec<Value> = dials.iter().rev().map(|d| self.history(task_id, id, number, d)).collect();
            o.put("call_history", json!(rows));
        }
        o.done()
    }

    /// A row of `query_done_task_phones` (also `GET v1/record/{id}`'s `data`).
    pub fn record(&self, r: &Rec) -> Value {
        let d = &r.dial;
        let group = if matches!(r.grade.as_str(), "A" | "B") { "有意向" } else { "无意向" };
        let group_json = json!({ "id": format!("group-{group}"), "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9",
            "name": group, "created_at": "2020-03-06 21:54:58", "updated_at": "2020-03-06 21:54:58",
            "tag_scene_id": "a13ad9cb-d9be-4498-bfe3-cd32c677f0dd" });
        let tags: Vec<Value> = (r.tags.iter().enumerate())
            .map(|(i, name)| {
                json!({ "id": format!("tag-{i}"), "name": name, "description": name, "color": "#2d8cf0",
                    "user_id": "4d99d91c-f5d9-49da-88da-758977cc58a9", "status": true,
                    "created_at": "2020-03-06 21:55:56", "updated_at": "2020-03-06 21:55:56",
                    "pivot": { "taggable_id": r.id, "tag_id": format!("tag-{i}") }, "tag_groups": [group_json] })
            })
            .collect();
        let level_name = format!("{}级({})", r.grade, alias(&r.grade));
        let mut o = self.obj();
        if tags.is_empty() {
            o.optional("tags", json!([]));
        } else {
            o.put("tags", json!(tags));
        }
        o.optional("tag_groups", json!([group_json]))
            .optional("operator_name", json!("联通"))
            .put("id", json!(r.id))
            .put("task_id", json!(r.task_id))
            .put("group_id", self.int(297))
            .put("callid", json!(d.call_id))
            .put("score", self.int(0))
            .put("callee", json!(r.number))
            .put("caller_number", json!("300708"))
            .put("duration", self.int(d.duration_ms))
            .put("error_code", json!(0))
            .put("level_id", json!(format!("level-{}", r.grade)))
            .put("calldate", self.time(d.call_time))
            .put("bill", self.int(d.bill_ms))
            .optional("hangupcause", json!("NORMAL_CLEARING"))
            .put("hangupdate", self.time(d.hangup_at))
            .put("answerdate", d.answered_at.map_or(Value::Null, |t| self.time(t)))
            // The whole call's recording on the vendor's disk, in the
            // document's form: <day>/<callee>.<group>.<time>.<callid>.wav.
            .optional(
                "recordfile",
                json!(format!(
                    "/mnt/smartivr/recordings/{}/{}.297.{}.{}.wav",
                    d.call_time.format("%Y-%m-%d"),
                    r.number,
                    d.call_time.format("%H-%M-%S"),
                    d.call_id
                )),
            )
            .put("bridge_callid", Value::Null)
            .put("hangup_disposition", self.int(1))
            .put("rounds", self.int(2))
            .put("level_name", json!(level_name))
            .optional(
                "level",
                json!({ "id": format!("level-{}", r.grade), "name": format!("{}级", r.grade),
                "alias": alias(&r.grade), "color": "#000" }),
            )
            .put("hangup_disposition_str", json!("AI"))
            .done()
    }

    /// The foreign number row of `bad_rows`: `status` is an object.
    pub fn foreign_number(&self, id: i64) -> Value {
        json!({ "number": "10000000000", "id": id, "status": { "code": 1 }, "is_blacklist": false })
    }

    /// The foreign call record of `bad_rows`: `bill` is an object.
    pub fn foreign_record(&self, task_id: &str) -> Value {
        json!({ "id": "foreign", "task_id": task_id, "callid": "foreign-call", "callee": "10000000000",
                "bill": { "ms": 1 }, "level_name": "A级" })
    }

    /// One page of `rows` (1-based) with `total` and `last_page` unless told otherwise.
    pub fn page(&self, rows: Vec<Value>, page: i64) -> Value {
        let size = self.vary.page_size.unwrap_or(PAGE_SIZE).max(1);
        let total = rows.len();
        let last_page = total.div_ceil(size).max(1);
        let page = usize::try_from(page.max(1)).unwrap_or(1);
        let data: Vec<Value> = rows.into_iter().skip((page - 1) * size).take(size).collect();
        let mut body = json!({ "current_page": page, "per_page": size, "data": data });
        if !self.vary.no_total {
            body["total"] = self.int(total as i64);
        }
        if !self.vary.no_last_page {
            body["last_page"] = self.int(last_page as i64);
        }
        body
    }
}
