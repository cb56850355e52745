//! Campaign definitions over the admin API: create, read, replace, delete;
//! the same validation as config.toml, config-owned campaigns read-only, and
//! the scheduler honouring an API campaign and its edits at its next tick.

use crate::common;

use common::daemon::{Daemon, cli};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim, write_contacts};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const TOKEN: &str = "s3cret";

/// The simulator, and the daemon with the test config (campaign `e2e`,
/// vendors `sim-a` and `sim-b`) and the admin token.
struct Running {
    db: TestDb,
    config: std::path::PathBuf,
    daemon: Daemon,
    conn: sea_orm::DatabaseConnection,
    _sim: doubles::sim::SimHandle,
}

impl Running {
    async fn start() -> Running {
        let db = TestDb::new();
        let sim = start_sim(fast_sim(0.0)).await;
        let config = ConfigSpec::new(&db.url, &sim.base_url()).write(&db, &format!("admin_token = \"{TOKEN}\""));
        let daemon = Daemon::start(&config);
        let conn = db.connect().await;
        Running { db, config, daemon, conn, _sim: sim }
    }
}

/// A valid definition of campaign `name` over vendor `sim-b`.
fn definition(name: &str) -> Value {
    json!({
        "name": name,
        "timezone": "Asia/Jakarta",
        "windows": "daily 00:00-24:00",
        "vendors": ["sim-b"],
        "default_country_code": "62",
        "max_concurrency": 4,
        "recall": {"max_attempts": 1, "default": {"action": "stop"}},
    })
}

async fn body(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn fields(answer: &Value) -> Vec<&str> {
    answer["fields"].as_array().expect("a fields list").iter().map(|f| f["field"].as_str().unwrap()).collect()
}

/// Import `n` contacts (numbers starting `0813`, apart from the config
/// campaign's `0812`) into `campaign` through the CLI.
fn import(db: &TestDb, config: &Path, campaign: &str, n: usize) {
    let csv = db.path(&format!("{campaign}.csv"));
    let text: String = (0..n).map(|i| format!("0813{:08},CASE-{i}\n", 20_000_000 + i)).collect();
    std::fs::write(&csv, format!("phone,case_id\n{text}")).unwrap();
    let out = cli(config, &["import", "--campaign", campaign, csv.to_str().unwrap()]);
    assert!(out.status.success(), "import: {}", String::from_utf8_lossy(&out.stderr));
}

async fn open_contacts(conn: &sea_orm::DatabaseConnection, campaign: &str) -> i64 {
    scalar(
        conn,
        &format!(
            "SELECT COUNT(*) FROM contacts c JOIN campaigns k ON k.id = c.campaign_id \
             WHERE k.name = '{campaign}' AND c.state IN ('pending', 'in_flight', 'waiting_retry')"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_are_validated_like_config_and_config_campaigns_are_read_only() {
    let Running { db, config, daemon, conn, _sim } = Running::start().await;
    let http = Client::new();
    let campaigns = daemon.url("/api/v1/campaigns");
    let one = |name: &str| daemon.url(&format!("/api/v1/campaigns/{name}"));
    // Starting in 2099: the scheduler would start the campaign at its next
    // tick otherwise, and this test reads its state as created.
    let definition = |name: &str| {
        let mut held = definition(name);
        held["starts_at"] = json!("2099-01-01T00:00:00Z");
        held
    };

    // Every route wants the token.
    for r in [
        http.post(&campaigns).json(&definition("x")),
        http.put(one("x")).json(&definition("x")),
        http.delete(one("x")),
        http.get(daemon.url("/api/v1/campaigns/x/definition")),
        http.post(&campaigns).bearer_auth("wrong").json(&definition("x")),
    ] {
        let (status, answer) = body(r.send().await.unwrap()).await;
        assert_eq!((status, answer["error"].as_str()), (401, Some("missing or wrong bearer token")));
    }

    // Create: 201 with the stored definition, owned by the API, scheduled.
    let r = http.post(&campaigns).bearer_auth(TOKEN).json(&definition("api-a")).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let (status, created) = body(r).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["owner"].as_str(), created["state"].as_str()), (Some("api"), Some("scheduled")));
    assert_eq!(created["etag"], etag.as_str());
    assert_eq!(created["definition"]["vendors"], json!(["sim-b"]));
    assert_eq!(created["definition"]["recall"]["max_attempts"], 1);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'api-a' AND config_hash IS NULL").await, 1);
    // It is a campaign like the others: listed with its status.
    let (_, status_of) = body(http.get(one("api-a")).bearer_auth(TOKEN).send().await.unwrap()).await;
    assert_eq!(status_of["state"], "scheduled", "{status_of}");

    // The definition route tells who owns each campaign.
    let definition_of =
        |name: &str| http.get(daemon.url(&format!("/api/v1/campaigns/{name}/definition"))).bearer_auth(TOKEN);
    let (status, read) = body(definition_of("api-a").send().await.unwrap()).await;
    assert_eq!((status, read["owner"].as_str(), read["etag"].as_str()), (200, Some("api"), Some(etag.as_str())));
    assert_eq!(read["definition"], created["definition"]);
    let (status, e2e) = body(definition_of("e2e").send().await.unwrap()).await;
    assert_eq!((status, e2e["owner"].as_str()), (200, Some("config")), "{e2e}");
    assert_eq!(e2e["definition"]["vendors"], json!([{"id": "sim-a", "weight": 2}, "sim-b"]), "as config.toml has them");
    assert_eq!(body(definition_of("nope").send().await.unwrap()).await.0, 404);

    // A taken name, or one of config.toml: 409, saying which.
    let (status, dup) =
        body(http.post(&campaigns).bearer_auth(TOKEN).json(&definition("api-a")).send().await.unwrap()).await;
    assert_eq!((status, dup["error"].as_str()), (409, Some("a campaign named `api-a` already exists")));
    let (status, cfg) =
        body(http.post(&campaigns).bearer_auth(TOKEN).json(&definition("e2e")).send().await.unwrap()).await;
    assert_eq!(status, 409);
    assert!(cfg["error"].as_str().unwrap().contains("owned by config.toml"), "{cfg}");

    // Bad fields: 422 naming each, by the same rules as config.toml.
    let mut bad = definition("api-bad");
    bad["timezone"] = json!("Mars/Olympus");
    bad["recall"]["max_attempts"] = json!(0);
    bad["vendors"] = json!(["sim-b", "no-such-vendor"]);
    let (status, refused) = body(http.post(&campaigns).bearer_auth(TOKEN).json(&bad).send().await.unwrap()).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(fields(&refused), ["timezone", "vendors[1]", "recall.max_attempts"], "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("no vendor with id `no-such-vendor` is configured"), "{error}");
    assert!(error.contains("recall.max_attempts: must be at least 1"), "{error}");
    // A value of the wrong type is named by its path; a missing key by its name.
    let mut typed = definition("api-bad");
    typed["recall"]["max_attempts"] = json!("three");
    let (status, refused) = body(http.post(&campaigns).bearer_auth(TOKEN).json(&typed).send().await.unwrap()).await;
    assert_eq!((status, fields(&refused)), (422, vec!["recall.max_attempts"]), "{refused}");
    let mut missing = definition("api-bad");
    missing.as_object_mut().unwrap().remove("timezone");
    let (status, refused) = body(http.post(&campaigns).bearer_auth(TOKEN).json(&missing).send().await.unwrap()).await;
    assert_eq!((status, fields(&refused)), (422, vec!["timezone"]), "{refused}");
    let r = http.post(&campaigns).bearer_auth(TOKEN).header("content-type", "application/json").body("{").send();
    assert_eq!(body(r.await.unwrap()).await.0, 400, "not JSON");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'api-bad'").await, 0, "nothing stored");

    // config.toml's campaign: PUT and DELETE refused, saying where to edit it.
    for r in
        [http.put(one("e2e")).bearer_auth(TOKEN).json(&definition("e2e")), http.delete(one("e2e")).bearer_auth(TOKEN)]
    {
        let (status, answer) = body(r.send().await.unwrap()).await;
        assert_eq!(status, 409, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("owned by config.toml: edit it there"), "{answer}");
    }

    // PUT: the same validation; a rename is refused; If-Match guards against
    // overwriting a change made since the read.
    let mut edit = definition("api-a");
    edit["max_concurrency"] = json!(7);
    edit["windows"] = json!("mon-fri 09:00-17:00");
    let r = http.put(one("api-a")).bearer_auth(TOKEN).header("if-match", "\"stale\"").json(&edit).send();
    let (status, stale) = body(r.await.unwrap()).await;
    assert_eq!(status, 412, "{stale}");
    assert!(stale["error"].as_str().unwrap().contains(&etag), "names the current ETag: {stale}");
    let (status, renamed) =
        body(http.put(one("api-a")).bearer_auth(TOKEN).json(&definition("api-z")).send().await.unwrap()).await;
    assert_eq!((status, fields(&renamed)), (422, vec!["name"]), "{renamed}");
    let mut bad_edit = edit.clone();
    bad_edit["recall"]["max_attempts"] = json!(0);
    let (status, refused) = body(http.put(one("api-a")).bearer_auth(TOKEN).json(&bad_edit).send().await.unwrap()).await;
    assert_eq!((status, fields(&refused)), (422, vec!["recall.max_attempts"]), "{refused}");
    let r = http.put(one("api-a")).bearer_auth(TOKEN).header("if-match", &etag).json(&edit).send();
    let (status, replaced) = body(r.await.unwrap()).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["definition"]["max_concurrency"], 7);
    assert_ne!(replaced["etag"], etag.as_str(), "a new version");
    assert_eq!(replaced["state"], created["state"], "PUT leaves the state alone");
    let r = http.put(one("api-a")).bearer_auth(TOKEN).header("if-match", &etag).json(&definition("api-a")).send();
    assert_eq!(body(r.await.unwrap()).await.0, 412, "the first admin's ETag is now stale");
    assert_eq!(scalar(&conn, "SELECT CAST(max_concurrency AS BIGINT) FROM campaigns WHERE name = 'api-a'").await, 7);
    assert_eq!(
        body(http.put(one("nope")).bearer_auth(TOKEN).json(&definition("nope")).send().await.unwrap()).await.0,
        404
    );

    // DELETE: a campaign with contacts is kept for their history; one without goes.
    import(&db, &config, "api-a", 2);
    let (status, kept) = body(http.delete(one("api-a")).bearer_auth(TOKEN).send().await.unwrap()).await;
    assert_eq!(status, 409, "{kept}");
    assert!(kept["error"].as_str().unwrap().contains("has 2 contact(s)"), "{kept}");
    assert_eq!(
        scalar(
            &conn,
            "SELECT COUNT(*) FROM contacts c JOIN campaigns k ON k.id = c.campaign_id WHERE k.name = 'api-a'"
        )
        .await,
        2
    );
    let (status, _) =
        body(http.post(&campaigns).bearer_auth(TOKEN).json(&definition("api-empty")).send().await.unwrap()).await;
    assert_eq!(status, 201);
    let (status, deleted) = body(http.delete(one("api-empty")).bearer_auth(TOKEN).send().await.unwrap()).await;
    assert_eq!((status, deleted["deleted"].as_bool()), (200, Some(true)), "{deleted}");
    assert_eq!(body(definition_of("api-empty").send().await.unwrap()).await.0, 404);
    assert_eq!(body(http.delete(one("api-empty")).bearer_auth(TOKEN).send().await.unwrap()).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_definition_routes_are_disabled() {
    let db = TestDb::new();
    let config = ConfigSpec::new(&db.url, "http://127.0.0.1:9").write(&db, "");
    let daemon = Daemon::start(&config);
    let http = Client::new();
    let one = daemon.url("/api/v1/campaigns/x");
    for r in [
        http.post(daemon.url("/api/v1/campaigns")).bearer_auth(TOKEN).json(&definition("x")),
        http.put(&one).bearer_auth(TOKEN).json(&definition("x")),
        http.delete(&one).bearer_auth(TOKEN),
        http.get(daemon.url("/api/v1/campaigns/x/definition")).bearer_auth(TOKEN),
    ] {
        let (status, answer) = body(r.send().await.unwrap()).await;
        assert_eq!((status, answer["error"].as_str()), (403, Some("admin API disabled: set http.admin_token")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_dials_an_api_campaign_and_honours_its_edit_at_the_next_tick() {
    let Running { db, config, daemon, conn, _sim } = Running::start().await;
    let http = Client::new();

    // Created to start tomorrow, over sim-b, with contacts.
    let mut later = definition("api-run");
    later["starts_at"] = json!((chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339());
    let (status, created) =
        body(http.post(daemon.url("/api/v1/campaigns")).bearer_auth(TOKEN).json(&later).send().await.unwrap()).await;
    assert_eq!(status, 201, "{created}");
    import(&db, &config, "api-run", 10);

    // The config campaign's contacts, imported after, are dialed to the end:
    // the scheduler has had its ticks, and left the API campaign waiting.
    let csv = db.path("e2e.csv");
    write_contacts(&csv, 10);
    assert!(cli(&config, &["import", "--campaign", "e2e", csv.to_str().unwrap()]).status.success());
    poll_until(Duration::from_secs(60), "the e2e contacts finished", || async {
        (open_contacts(&conn, "e2e").await == 0).then_some(())
    })
    .await;
    let attempts_of_api_run =
        "SELECT COUNT(*) FROM attempts a JOIN campaigns k ON k.id = a.campaign_id WHERE k.name = 'api-run'";
    assert_eq!(scalar(&conn, attempts_of_api_run).await, 0, "not before starts_at");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'api-run' AND state = 'scheduled'").await, 1);

    // The edit: start now, over sim-a. It is dialed to the end, over sim-a only.
    let mut now = definition("api-run");
    now["vendors"] = json!(["sim-a"]);
    let r = http
        .put(daemon.url("/api/v1/campaigns/api-run"))
        .bearer_auth(TOKEN)
        .header("if-match", created["etag"].as_str().unwrap());
    let (status, replaced) = body(r.json(&now).send().await.unwrap()).await;
    assert_eq!(status, 200, "{replaced}");
    poll_until(Duration::from_secs(60), "the api-run contacts finished", || async {
        (open_contacts(&conn, "api-run").await == 0).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, attempts_of_api_run).await, 10, "one attempt each (max_attempts = 1)");
    let elsewhere = format!("{attempts_of_api_run} AND a.vendor_id <> 'sim-a'");
    assert_eq!(scalar(&conn, &elsewhere).await, 0, "the edited vendors route every call");
}
