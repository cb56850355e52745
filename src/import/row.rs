//! One row of a contact list into a contact: the normalization every format
//! shares (CSV lines, NDJSON objects). The phone becomes E.164 (national
//! numbers take the campaign's country code), the zones are inferred
//! (explicit zones, the number's country or NANP area code, the campaign's
//! zone), every other column becomes a variable. A bad field is named with
//! its line.

use super::{ImportError, RowError};
use crate::domain::contact_columns::Columns;
use crate::domain::phone::E164;
use crate::domain::window::parse_tz;
use crate::domain::zones::{parse_zone_list, resolve_zones, zones_key};
use crate::store::contacts::NewContact;
use chrono_tz::Tz;
use entity::campaign;

/// A row read: the contact, or why not.
pub type Row = Result<NewContact, RowError>;

/// What every row of one import shares.
#[derive(Debug, Clone)]
pub struct RowContext {
    /// The campaign's default country code, for national-format numbers.
    pub cc: Option<String>,
    /// The campaign's zone: where contacts fall back to.
    pub campaign_tz: Tz,
}

impl RowContext {
    /// The campaign's country code and zone (a zone that does not read
    /// refuses the whole import: no row could be placed).
    pub fn of(camp: &campaign::Model) -> Result<RowContext, ImportError> {
        let campaign_tz = parse_tz(&camp.timezone)
            .map_err(|source| ImportError::CampaignZone { campaign: camp.name.clone(), source })?;
        Ok(RowContext { cc: camp.default_country_code.clone(), campaign_tz })
    }
}

/// A row's cells by column position.
pub trait Cells {
    fn cell(&self, i: usize) -> Option<&str>;
}

impl Cells for csv::StringRecord {
    fn cell(&self, i: usize) -> Option<&str> {
        self.get(i)
    }
}

impl Cells for Vec<String> {
    fn cell(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

/// The text of cell `i` (empty when absent). PostgreSQL text and JSON
/// columns refuse NUL: a cell carrying one is refused here, by name, instead
/// of failing the whole batch's insert.
fn cell<'c>(cells: &'c impl Cells, i: Option<usize>, field: &'static str, line: u64) -> Result<&'c str, RowError> {
    let text = i.and_then(|i| cells.cell(i)).unwrap_or_default();
    match text.contains('\0') {
        true => Err(RowError { line, field, message: "contains a NUL character".into() }),
        false => Ok(text),
    }
}

/// The contact of one row whose columns are `cols`, at `line` of the input.
pub fn contact(cells: &impl Cells, cols: &Columns, ctx: &RowContext, line: u64) -> Row {
    let err = |field, message: String| RowError { line, field, message };
    let raw_phone = cell(cells, Some(cols.phone), "phone", line)?;
    let phone = E164::parse(raw_phone, ctx.cc.as_deref()).map_err(|e| err("phone", e.to_string()))?;
    let raw_zones = cell(cells, cols.timezone, "timezone", line)?;
    // Several zones (`Asia/Jakarta|Asia/Makassar`) mean "open only when all are".
    let explicit = parse_zone_list(raw_zones).map_err(|e| err("timezone", e.to_string()))?;
    let resolved = resolve_zones(&explicit, phone.as_str(), ctx.campaign_tz);
    // Canonical names, one zone written exactly as before.
    let timezone = zones_key(&explicit);
    let case_id = Some(cell(cells, cols.case_id, "case_id", line)?.trim()).filter(|s| !s.is_empty()).map(String::from);
    let mut variables = serde_json::Map::new();
    for (i, name) in &cols.variables {
        let value = cell(cells, Some(*i), "variables", line)
            .map_err(|e| RowError { message: format!("`{name}` {}", e.message), ..e })?;
        variables.insert(name.clone(), serde_json::Value::String(value.to_string()));
    }
    Ok(NewContact {
        phone: phone.as_str().to_string(),
        case_id,
        timezone,
        zones: zones_key(&resolved.zones),
        zone_source: Some(resolved.source.as_str().to_string()),
        variables: serde_json::Value::Object(variables),
    })
}
