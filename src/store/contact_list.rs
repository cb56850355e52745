//! A campaign's contacts a page at a time for the admin API: keyset pages by
//! id (stable while contacts are added or change state), filtered by state,
//! last disposition or last intent.

use super::StoreError;
use crate::domain::outcome::{Disposition, Intent};
use crate::domain::state::ContactState;
use entity::contact;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Which contacts a page holds; `None` takes any.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactFilter {
    pub state: Option<ContactState>,
    /// The disposition of the contact's last attempt.
    pub disposition: Option<Disposition>,
    /// The intent of the contact's last attempt.
    pub intent: Option<Intent>,
}

/// Contacts of the campaign with an id above `after_id` that match
/// `filter`, by id, at most `limit`.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    filter: ContactFilter,
    after_id: i64,
    limit: u64,
) -> Result<Vec<contact::Model>, StoreError> {
    let mut query = contact::Entity::find()
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::Id.gt(after_id));
    if let Some(state) = filter.state {
        query = query.filter(contact::Column::State.eq(state.as_str()));
    }
    if let Some(d) = filter.disposition {
        query = query.filter(contact::Column::LastDisposition.eq(d.as_str()));
    }
    if let Some(i) = filter.intent {
        query = query.filter(contact::Column::LastIntent.eq(i.as_str()));
    }
    Ok(query.order_by_asc(contact::Column::Id).limit(limit).all(db).await?)
}
