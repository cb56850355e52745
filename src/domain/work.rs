//! Whether a daemon has anything to dial, and if not, what the operator can
//! do about it: a daemon that starts idle and says nothing looks broken.

use crate::domain::state::CampaignState;

/// What the check needs to know of one campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignWork {
    pub name: String,
    pub state: CampaignState,
    /// Contacts not final yet (pending, in flight, waiting for a retry).
    pub open_contacts: i64,
}

/// `None` when some scheduled or running campaign has contacts left to call;
/// otherwise one line saying why nothing will be dialed and how to give the
/// daemon work.
pub fn nothing_to_dial(campaigns: &[CampaignWork]) -> Option<String> {
    let live = |c: &&CampaignWork| !c.state.is_terminal();
    if campaigns.iter().filter(live).any(|c| dials(c.state) && c.open_contacts > 0) {
        return None;
    }
    let mut why = Vec::new();
    for c in campaigns.iter().filter(live) {
        why.push(match c.state {
            CampaignState::Paused if c.open_contacts > 0 => format!(
                "campaign {} is paused with {} contacts left (`campaignd resume {}`)",
                c.name, c.open_contacts, c.name
            ),
            CampaignState::Draft => format!("campaign {} is a draft", c.name),
            _ => format!(
                "campaign {} has no contacts left to call (`campaignd import --campaign {} FILE`, \
                 or `contacts_file` in its config entry)",
                c.name, c.name
            ),
        });
    }
    if why.is_empty() {
        why.push(
            "no campaign is scheduled, running or paused (add one under [[campaigns]] in the config \
             and reload it: `systemctl reload campaignd` or SIGHUP)"
                .to_string(),
        );
    }
    Some(format!("nothing to dial: {}", why.join("; ")))
}

fn dials(state: CampaignState) -> bool {
    matches!(state, CampaignState::Scheduled | CampaignState::Running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignState as S;

    fn c(name: &str, state: CampaignState, open: i64) -> CampaignWork {
        CampaignWork { name: name.into(), state, open_contacts: open }
    }

    #[test]
    fn a_running_or_scheduled_campaign_with_contacts_is_work() {
        assert_eq!(nothing_to_dial(&[c("a", S::Running, 3)]), None);
        assert_eq!(nothing_to_dial(&[c("a", S::Paused, 3), c("b", S::Scheduled, 1)]), None);
    }

    #[test]
    fn no_campaign_at_all_says_how_to_add_one() {
        let line = nothing_to_dial(&[c("done", S::Completed, 0)]).unwrap();
        assert!(line.starts_with("nothing to dial: no campaign is scheduled, running or paused"), "{line}");
        assert!(line.contains("[[campaigns]]") && line.contains("SIGHUP"), "{line}");
    }

    #[test]
    fn each_idle_campaign_gets_its_own_remedy() {
        let line = nothing_to_dial(&[c("p", S::Paused, 4), c("e", S::Running, 0), c("x", S::Cancelled, 9)]).unwrap();
        assert!(line.contains("campaign p is paused with 4 contacts left (`campaignd resume p`)"), "{line}");
        assert!(
            line.contains("campaign e has no contacts left to call (`campaignd import --campaign e FILE`"),
            "{line}"
        );
        assert!(line.contains("contacts_file"), "{line}");
        assert!(!line.contains("campaign x"), "finished campaigns are not listed: {line}");
    }
}
