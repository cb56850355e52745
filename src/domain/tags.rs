//! Vendor tags as intents. Robots label calls with free-text tags (ITNIO
//! `callRecordTagNames`/`customerTagNames`, smartivr `tags`, e.g. 投诉 or
//! 脏话) that carry the strongest signals a collections team has — a
//! complaint, a dispute — which the vendor's result code alone does not. A
//! per-vendor table turns them into normalized intents so recall rules such
//! as `intent:complaint → suppress` fire for every vendor.

use super::outcome::Intent;
use std::collections::BTreeMap;

/// Tags every vendor understands unless its `tag_intents` table says
/// otherwise: complaint and abuse markers in Chinese (simplified and
/// traditional) and English, the blacklist marker, dispute and transfer
/// markers. Matching ignores case and surrounding spaces.
pub const DEFAULT_TAGS: &[(&str, Intent)] = &[
    ("投诉", Intent::Complaint),
    ("投訴", Intent::Complaint),
    ("脏话", Intent::Complaint),
    ("髒話", Intent::Complaint),
    ("辱骂", Intent::Complaint),
    ("辱罵", Intent::Complaint),
    ("complaint", Intent::Complaint),
    ("complain", Intent::Complaint),
    ("abuse", Intent::Complaint),
    ("黑名单", Intent::DoNotCall),
    ("黑名單", Intent::DoNotCall),
    ("勿扰", Intent::DoNotCall),
    ("do not call", Intent::DoNotCall),
    ("dnc", Intent::DoNotCall),
    ("否认借贷", Intent::Dispute),
    ("否認借貸", Intent::Dispute),
    ("dispute", Intent::Dispute),
    ("转人工", Intent::Transferred),
    ("轉人工", Intent::Transferred),
];

/// A vendor's tag → intent table: the defaults with the operator's
/// `[vendors.tag_intents]` entries on top (an entry may also remap a default).
#[derive(Debug, Clone, PartialEq)]
pub struct TagIntents {
    map: BTreeMap<String, Intent>,
}

impl Default for TagIntents {
    fn default() -> Self {
        TagIntents::with_overrides(std::iter::empty())
    }
}

fn key(tag: &str) -> String {
    tag.trim().to_lowercase()
}

impl TagIntents {
    pub fn with_overrides<'a>(overrides: impl IntoIterator<Item = (&'a str, Intent)>) -> TagIntents {
        let mut map: BTreeMap<String, Intent> = DEFAULT_TAGS.iter().map(|(t, i)| (key(t), *i)).collect();
        map.extend(overrides.into_iter().map(|(t, i)| (key(t), i)));
        TagIntents { map }
    }

    /// The strongest intent any of `tags` maps to (see [`strength`]).
    pub fn intent<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<Intent> {
        tags.into_iter().filter_map(|t| self.map.get(&key(t)).copied()).max_by_key(|i| strength(*i))
    }

    /// The intent of a call whose result code gave `coded` and whose tags
    /// gave `tagged`: a tag wins when it is the stronger signal, so a
    /// complaint tag on a call coded "promise to pay" still suppresses.
    pub fn combine(coded: Option<Intent>, tagged: Option<Intent>) -> Option<Intent> {
        match (coded, tagged) {
            (Some(c), Some(t)) if strength(t) > strength(c) => Some(t),
            (None, t) => t,
            (c, _) => c,
        }
    }
}

/// How strongly an intent must be acted upon: signals that stop calling (a
/// complaint, do-not-call, a dispute) outrank outcomes of the conversation,
/// which outrank "talked, no clear answer", which outranks unknown.
pub fn strength(i: Intent) -> u8 {
    match i {
        Intent::Complaint => 9,
        Intent::DoNotCall => 8,
        Intent::Dispute => 7,
        Intent::WrongPerson => 6,
        Intent::Paid | Intent::PromiseToPay => 5,
        Intent::Refuse | Intent::Callback | Intent::Interested | Intent::NotInterested => 4,
        Intent::Transferred => 3,
        Intent::Undecided => 2,
        Intent::Unknown => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags_catch_complaints_in_every_spelling() {
        let t = TagIntents::default();
        for tag in ["投诉", "投訴", "脏话", " Complaint ", "COMPLAINT"] {
            assert_eq!(t.intent([tag]), Some(Intent::Complaint), "{tag}");
        }
        assert_eq!(t.intent(["意向客户", "其他"]), None);
    }

    #[test]
    fn the_strongest_tag_wins_and_beats_a_weaker_code() {
        let t = TagIntents::default();
        assert_eq!(t.intent(["转人工", "投诉"]), Some(Intent::Complaint));
        let combined = TagIntents::combine(Some(Intent::PromiseToPay), t.intent(["脏话"]));
        assert_eq!(combined, Some(Intent::Complaint));
        assert_eq!(TagIntents::combine(Some(Intent::Paid), Some(Intent::Transferred)), Some(Intent::Paid));
        assert_eq!(TagIntents::combine(None, Some(Intent::Transferred)), Some(Intent::Transferred));
    }

    #[test]
    fn operators_add_and_remap_tags() {
        let t = TagIntents::with_overrides([("承诺还款", Intent::PromiseToPay), ("dnc", Intent::Complaint)]);
        assert_eq!(t.intent(["承诺还款"]), Some(Intent::PromiseToPay));
        assert_eq!(t.intent(["DNC"]), Some(Intent::Complaint));
    }
}
