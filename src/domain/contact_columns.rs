//! Which columns of a contact list mean what: `phone` (required),
//! `case_id`, `timezone`, and every other column a variable for the bot.
//! Shared by the import and by the config check of `contacts_file`.

/// Column positions in a contact list's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub phone: usize,
    pub case_id: Option<usize>,
    pub timezone: Option<usize>,
    /// `(position, name)` of every other column.
    pub variables: Vec<(usize, String)>,
}

impl Columns {
    /// Read a header (names compared trimmed, case-insensitively); the
    /// error names the columns found when `phone` is missing.
    pub fn find(header: &[&str]) -> Result<Columns, String> {
        let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let phone = find("phone").ok_or_else(|| format!("no `phone` column (found: {})", header.join(", ")))?;
        let case_id = find("case_id");
        let timezone = find("timezone");
        let variables = header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != phone && Some(*i) != case_id && Some(*i) != timezone)
            .map(|(i, h)| (i, h.trim().to_string()))
            .collect();
        Ok(Columns { phone, case_id, timezone, variables })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_is_required_and_the_rest_are_variables() {
        let c = Columns::find(&["Name", " PHONE ", "case_id", "amount"]).unwrap();
        assert_eq!((c.phone, c.case_id, c.timezone), (1, Some(2), None));
        assert_eq!(c.variables, vec![(0, "Name".to_string()), (3, "amount".to_string())]);
        let err = Columns::find(&["number", "name"]).unwrap_err();
        assert!(err.contains("no `phone` column") && err.contains("number, name"), "{err}");
    }
}
