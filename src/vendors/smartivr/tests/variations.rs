//! Every variation the fake can send, against the adapter on loopback.

use super::{OPTIONS, TOKEN, adapter_for, batch, fake_varying, handle, phone, poll_until, settings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::{LookupResult, VendorAdapter};
use doubles::FakeBehavior;
use doubles::smartivr::Variations;
use serde_json::json;
use std::collections::HashSet;

/// Every switch of the fake's [`Variations`], one fake each: every number
/// ends in exactly one result, read as the fake meant it, by poll and by
/// lookup, and a number never given to the vendor is "not found" only after
/// the whole list was read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variation_the_fake_can_send_is_read() {
    let paging = Variations { page_size: Some(4), no_last_page: true, no_total: true, ..Variations::default() };
    let cases: Vec<(&str, Variations)> = vec![
        ("nulls", Variations { nulls: true, ..Variations::default() }),
        ("omit", Variations { omit_optional: true, ..Variations::default() }),
        ("loose", Variations { loose_types: true, ..Variations::default() }),
        ("unknown", Variations { unknown_status: true, ..Variations::default() }),
        ("tags", Variations { tags: vec!["脏话".into()], ..Variations::default() }),
        ("black1", Variations { is_blacklist: Some(json!(1)), ..Variations::default() }),
        ("black-str", Variations { is_blacklist: Some(json!("1")), ..Variations::default() }),
        ("black-bool", Variations { is_blacklist: Some(json!(true)), ..Variations::default() }),
        ("paging", paging),
        ("bad", Variations { bad_rows: true, page_size: Some(5), ..Variations::default() }),
    ];
    let s = settings(OPTIONS);
    for (name, vary) in cases {
        let behavior = FakeBehavior {
            outcomes: [("1D".to_string(), 1.0), ("4".to_string(), 1.0)].into(),
            ..FakeBehavior::fast(21)
        };
        let fake = fake_varying(&s, behavior, vary.clone()).await;
        let a = adapter_for(&s, &fake.base_url(), TOKEN);
        let task = a.dispatch(&batch(9, 0)).await.unwrap_or_else(|e| panic!("{name}: {e}")).vendor_task_id;
        let events = poll_until(&a, &task, |e| e.len() == 9).await;
        let phones: HashSet<_> = events.iter().filter_map(|e| e.phone.clone()).collect();
        assert_eq!(phones, (0..9).map(phone).collect::<HashSet<_>>(), "{name}: each number once");
        for e in &events {
            let o = &e.outcome;
            assert!(e.is_final, "{name}");
            assert_eq!(e.blacklisted, vary.is_blacklist.is_some(), "{name}: {e:?}");
            match o.raw_code.as_deref() {
                Some("smartivr:1") if vary.tags.is_empty() => {
                    assert_eq!(
                        (o.intent, o.raw_intent.as_deref()),
                        (Some(Intent::NotInterested), Some("smartivr:D级(无意向)"))
                    )
                }
                Some("smartivr:1") => {
                    assert_eq!(
                        (o.intent, o.raw_intent.as_deref()),
                        (Some(Intent::Complaint), Some("smartivr:脏话")),
                        "{name}"
                    )
                }
                Some("smartivr:4") if !vary.unknown_status => assert_eq!(o.disposition, Disposition::NoAnswer),
                Some("smartivr:13") if vary.unknown_status => assert_eq!(o.disposition, Disposition::Unknown),
                other => panic!("{name}: unexpected {other:?} in {e:?}"),
            }
            assert!(e.started_at.is_some() && e.ended_at.is_some(), "{name}: call times");
            assert_eq!(e.vendor_task_id.as_deref(), Some(task.as_str()));
        }
        for i in 0..9 {
            match a.lookup(&handle(&task, i)).await {
                Ok(LookupResult::Finished(found)) => {
                    let polled = events.iter().find(|e| e.phone == found.phone).unwrap();
                    assert_eq!(&found, polled, "{name}: lookup {i}");
                }
                other => panic!("{name}: lookup {i}: {other:?}"),
            }
        }
        assert_eq!(a.lookup(&handle(&task, 99)).await.unwrap(), LookupResult::NotFound, "{name}");
        fake.shutdown().await;
    }
}
