use super::*;
use chrono_tz::{America, Asia, Europe};

fn tz(name: &str) -> Tz {
    name.parse().unwrap_or_else(|_| panic!("test zone {name}"))
}

/// Resolve with no explicit zone; returns (zone names, source).
fn by_number(phone: &str, campaign: &str) -> (Vec<&'static str>, ZoneSource) {
    let r = resolve_zones(&[], phone, tz(campaign));
    (r.zones.iter().map(|z| z.name()).collect(), r.source)
}

#[test]
fn single_zone_countries_give_their_zone() {
    let cases = [
        ("+639171234567", "Asia/Manila"),
        ("+919812345678", "Asia/Kolkata"),
        ("+447911123456", "Europe/London"),
        ("+4915112345678", "Europe/Berlin"),
        ("+819012345678", "Asia/Tokyo"),
        ("+77012345678", "Asia/Almaty"),      // Kazakhstan inside the shared +7
        ("+390669812345", "Europe/Rome"),     // Italy and the Vatican share one clock
        ("+2626391234567", "Indian/Mayotte"), // a longer prefix narrows +262
    ];
    for (phone, want) in cases {
        assert_eq!(by_number(phone, "UTC"), (vec![want], ZoneSource::Country), "{phone}");
    }
}

#[test]
fn nanp_area_codes_give_their_zones() {
    let cases: [(&str, &[&str]); 10] = [
        ("+12125550100", &["America/New_York"]),
        ("+13125550100", &["America/Chicago"]),
        ("+14155550100", &["America/Los_Angeles"]),
        ("+19075550100", &["America/Adak", "America/Anchorage"]),
        ("+18085550100", &["Pacific/Honolulu"]),
        ("+16025550100", &["America/Phoenix"]),
        ("+14165550100", &["America/Toronto"]),
        ("+16045550100", &["America/Vancouver"]),
        ("+18505550100", &["America/Chicago", "America/New_York"]),
        ("+18765550100", &["America/Jamaica"]),
    ];
    for (phone, want) in cases {
        assert_eq!(by_number(phone, "UTC"), (want.to_vec(), ZoneSource::Nanp), "{phone}");
    }
    let split = resolve_zones(&[], "+18505550100", Tz::UTC);
    assert!(split.note.as_deref().is_some_and(|n| n.contains("850") && n.contains("2 clocks")), "{split:?}");
    assert_eq!(resolve_zones(&[], "+12125550100", Tz::UTC).note, None);
}

#[test]
fn multi_zone_countries_fall_back_to_the_campaign_zone_when_it_is_theirs() {
    let cases = [
        ("+6281234567890", "Asia/Jakarta"),
        ("+6281234567890", "Asia/Jayapura"),
        ("+5215512345678", "America/Mexico_City"),
        ("+74951234567", "Europe/Moscow"),
        ("+74951234567", "Europe/Volgograd"), // any zone of the country, not just the representatives
        ("+18005550100", "America/New_York"), // toll-free: US/Canada, no area
        ("+18005550100", "US/Eastern"),       // legacy names count too
    ];
    for (phone, campaign) in cases {
        let r = resolve_zones(&[], phone, tz(campaign));
        assert_eq!((r.zones.as_slice(), r.source), (&[][..], ZoneSource::Campaign), "{phone} in {campaign}");
        let note = r.note.unwrap_or_default();
        assert!(note.contains("multi-zone country (") && note.contains("fell back to campaign zone"), "{note}");
    }
}

#[test]
fn multi_zone_countries_elsewhere_keep_all_their_zones() {
    let r = resolve_zones(&[], "+6281234567890", Europe::London);
    assert_eq!(r.zones, vec![Asia::Jakarta, Asia::Jayapura, Asia::Makassar], "WIB, WIT, WITA");
    assert_eq!(r.source, ZoneSource::CountryZones);
    let note = r.note.unwrap_or_default();
    assert!(note.contains("multi-zone") && note.contains("set the contact's timezone"), "{note}");

    let (mx, source) = by_number("+5215512345678", "Europe/London");
    assert_eq!(source, ZoneSource::CountryZones);
    assert!(mx.contains(&"America/Mexico_City") && mx.contains(&"America/Tijuana") && mx.contains(&"America/Cancun"));
    let (ru, _) = by_number("+74951234567", "Europe/London");
    assert_eq!(ru.len(), 11, "one zone per Russian clock: {ru:?}");
    assert!(ru.contains(&"Europe/Kaliningrad") && ru.contains(&"Asia/Kamchatka"));
    // A zone on the same clock as the country's is not "in" the country.
    let (id, source) = by_number("+6281234567890", "Asia/Bangkok");
    assert_eq!((id.len(), source), (3, ZoneSource::CountryZones));
}

#[test]
fn unknown_calling_codes_use_the_campaign_zone() {
    for phone in ["+8001234567", "+2101234567", "+8821612345678", "not a phone", ""] {
        let r = resolve_zones(&[], phone, Asia::Jakarta);
        assert_eq!((r.zones.as_slice(), r.source), (&[][..], ZoneSource::Campaign), "{phone:?}");
    }
}

#[test]
fn explicit_zones_that_contradict_the_number_are_intersected() {
    let r = resolve_zones(&[America::Los_Angeles], "+12125550100", Asia::Jakarta);
    assert_eq!(r.zones, vec![America::Los_Angeles, America::New_York]);
    assert_eq!(r.source, ZoneSource::Explicit);
    let note = r.note.unwrap_or_default();
    assert!(note.contains("disagree") && note.contains("212"), "{note}");

    let r = resolve_zones(&[Asia::Jakarta], "+639171234567", Asia::Jakarta);
    assert_eq!(r.zones, vec![Asia::Jakarta, Asia::Manila], "a Philippine number said to be in Jakarta");
}

#[test]
fn explicit_zones_that_agree_with_the_number_stand_alone() {
    let cases: [(&[Tz], &str, &[Tz]); 4] = [
        (&[America::New_York], "+12125550100", &[America::New_York]),
        // Same clock, other name: nothing to add.
        (&[America::Detroit], "+12125550100", &[America::Detroit]),
        // The operator picks one side of a split area code.
        (&[America::Chicago], "+18505550100", &[America::Chicago]),
        (&[Asia::Kolkata, Asia::Dubai], "+919812345678", &[Asia::Dubai, Asia::Kolkata]),
    ];
    for (explicit, phone, want) in cases {
        let r = resolve_zones(explicit, phone, Tz::UTC);
        assert_eq!((r.zones.as_slice(), r.source, r.note.as_deref()), (want, ZoneSource::Explicit, None), "{phone}");
    }
}

#[test]
fn explicit_zones_win_over_a_multi_zone_or_unknown_number() {
    for phone in ["+6281234567890", "+74951234567", "+18005550100", "+8001234567"] {
        let r = resolve_zones(&[Asia::Makassar], phone, Europe::London);
        assert_eq!((r.zones, r.source), (vec![Asia::Makassar], ZoneSource::Explicit), "{phone}");
    }
}

#[test]
fn resolved_zones_round_trip_through_the_stored_key() {
    let cases = [
        (vec![], "+6281234567890", Europe::London),
        (vec![], "+18505550100", Tz::UTC),
        (vec![America::Los_Angeles], "+12125550100", Tz::UTC),
        (vec![], "+8001234567", Tz::UTC),
    ];
    for (explicit, phone, campaign) in cases {
        let r = resolve_zones(&explicit, phone, campaign);
        let key = zones_key(&r.zones);
        assert_eq!(key.is_none(), r.zones.is_empty(), "{phone}");
        assert_eq!(parse_zone_list(key.as_deref().unwrap_or_default()).unwrap(), r.zones, "{phone}: {key:?}");
    }
}

#[test]
fn zone_sources_have_stable_names() {
    use ZoneSource::*;
    let names: Vec<&str> = [Explicit, Country, Nanp, CountryZones, Campaign].iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["explicit", "country", "nanp", "country-zones", "campaign"]);
}

#[test]
fn zone_lists_accept_the_separators_people_use() {
    let want = vec![Asia::Jakarta, Asia::Makassar];
    for text in [
        "Asia/Jakarta|Asia/Makassar",
        "Asia/Makassar; Asia/Jakarta",
        "Asia/Jakarta Asia/Makassar",
        "Asia/Jakarta,Asia/Makassar,Asia/Jakarta",
    ] {
        assert_eq!(parse_zone_list(text).unwrap(), want, "{text}");
    }
    assert_eq!(parse_zone_list("  ").unwrap(), vec![]);
    let err = parse_zone_list("Asia/Jakarta|Mars/Olympus").unwrap_err().to_string();
    assert!(err.contains("Mars/Olympus"), "{err}");
}
