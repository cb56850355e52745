use super::*;
use crate::domain::state::CampaignState;
use crate::store::{campaigns, contacts, testkit};

/// `(case_id, timezone, zones, zone_source)` of a stored contact.
type Stored<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

async fn campaign_db() -> (Db, campaign::Model) {
    let conn = testkit::memory_db().await;
    let fields = "timezone = \"Asia/Jakarta\"\nwindows = \"daily 09:00-20:00\"\ndefault_country_code = \"62\"";
    let (_, camp) = testkit::declared_campaign(&conn, "zones", fields).await;
    (conn, camp)
}

#[tokio::test]
async fn import_stores_each_contacts_inferred_zones_and_their_source() {
    let (conn, camp) = campaign_db().await;
    let csv = "phone,case_id,timezone,name\n\
               +12125550100,nanp,,Ann\n\
               +639171234567,country,,Ben\n\
               +6281234567890,explicit,Asia/Makassar,Cat\n\
               0812 2222 3333,campaign,,Dan\n\
               +13125550100,conflict,America/Los_Angeles|America/Denver,Eve\n\
               +6281299990000,bad,Asia/Jakarta|Mars/Olympus,Fay\n\
               +447911123456,multi,Europe/Paris Europe/London,Gus\n";
    let report = import_csv(&conn, &camp, csv.as_bytes(), None, Utc::now()).await.expect("import");
    assert_eq!((report.rows, report.inserted, report.rejected), (7, 6, 1), "{report:?}");
    let err = &report.errors[0];
    assert_eq!((err.line, err.field), (7, "timezone"), "{err}");
    assert!(err.message.contains("Mars/Olympus"), "{err}");

    let rows = contacts::page(&conn, camp.id, 0, 100).await.unwrap();
    let got: Vec<Stored> = rows
        .iter()
        .map(|c| (c.case_id.as_deref().unwrap(), c.timezone.as_deref(), c.zones.as_deref(), c.zone_source.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("nanp", None, Some("America/New_York"), Some("nanp")),
            ("country", None, Some("Asia/Manila"), Some("country")),
            ("explicit", Some("Asia/Makassar"), Some("Asia/Makassar"), Some("explicit")),
            // National number in the campaign's own multi-zone country.
            ("campaign", None, None, Some("campaign")),
            (
                "conflict",
                Some("America/Denver,America/Los_Angeles"),
                Some("America/Chicago,America/Denver,America/Los_Angeles"),
                Some("explicit"),
            ),
            ("multi", Some("Europe/London,Europe/Paris"), Some("Europe/London,Europe/Paris"), Some("explicit")),
        ]
    );
}

#[tokio::test]
async fn a_campaign_with_a_broken_zone_refuses_the_import_and_says_why() {
    let (conn, camp) = campaign_db().await;
    let camp = campaign::Model { timezone: "Asia/Nowhere".into(), ..camp };
    let err = import_csv(&conn, &camp, "phone\n+639171234567\n".as_bytes(), None, Utc::now()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("zones") && msg.contains("Asia/Nowhere"), "{msg}");
}

#[tokio::test]
async fn a_finished_campaign_counts_new_rows_but_adds_none() {
    let (conn, camp) = campaign_db().await;
    let first = "phone\n+6281211110001\n+6281211110002\n";
    let report = import_csv(&conn, &camp, first.as_bytes(), None, Utc::now()).await.expect("import");
    assert_eq!(report.inserted, 2);
    let mut from = CampaignState::Scheduled;
    for state in [CampaignState::Completed, CampaignState::Cancelled] {
        assert!(campaigns::set_state_fenced(&conn, camp.id, from, state, Utc::now()).await.expect("finish"));
        from = state;
        let finished = campaigns::find_by_name(&conn, "zones").await.expect("campaign");
        // One known number, two new ones: the new ones are counted, not added.
        let again = "phone\n+6281211110001\n+6281211110003\n+6281211110004\n";
        let report = import_csv(&conn, &finished, again.as_bytes(), None, Utc::now()).await.expect("import");
        assert_eq!((report.inserted, report.duplicates, report.refused_finished), (0, 1, 2), "{state}: {report:?}");
        assert_eq!(contacts::page(&conn, camp.id, 0, 100).await.unwrap().len(), 2, "{state}: nothing added");
    }
}

/// A reader that gives `data`, then fails (a disk error, an upload cut short).
struct FailsAtEnd(std::io::Cursor<Vec<u8>>);

impl Read for FailsAtEnd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("cut short")),
            n => Ok(n),
        }
    }
}

#[tokio::test]
async fn a_reader_failing_midway_keeps_the_rows_before_it_and_says_how_many() {
    let (conn, camp) = campaign_db().await;
    let mut csv = String::from("phone\n");
    for i in 0..2500 {
        csv.push_str(&format!("+62812{:08}\n", 30_000_000 + i));
    }
    // Parsed on a blocking thread, as an upload is.
    let ctx = RowContext::of(&camp).unwrap();
    let rows = background(move || CsvRows::new(FailsAtEnd(std::io::Cursor::new(csv.into_bytes())), ctx, None));
    let err = import_rows(&conn, &camp, rows, Utc::now()).await.unwrap_err();
    let ImportError::Interrupted { error, kept } = err else { panic!("{err}") };
    assert_eq!(error.to_string(), "cut short");
    // Whole batches were read before the failure; the batch it cut is not.
    assert_eq!((kept.rows, kept.inserted), (2000, 2000), "{kept:?}");
    assert_eq!(contacts::page(&conn, camp.id, 0, 5000).await.unwrap().len(), 2000, "committed");

    // Nothing read at all: a plain read error, nothing written.
    let ctx = RowContext::of(&camp).unwrap();
    let err = import_rows(
        &conn,
        &camp,
        background(move || CsvRows::new(FailsAtEnd(Default::default()), ctx, None)),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::Read(_)), "{err}");
}
