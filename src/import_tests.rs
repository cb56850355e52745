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
