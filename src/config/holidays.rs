//! Reads the holiday calendars named by `[compliance] holiday_files`: the
//! built-in files (`data/holidays/`, compiled in) plus the operator's own,
//! merged in order. Files are read once when the config is loaded, so an edit
//! takes effect on restart.

use crate::domain::holidays::HolidayCalendar;
use std::path::PathBuf;

impl HolidayCalendar {
    /// The built-in calendars plus every file in `paths`. Each problem of
    /// each file is reported as `file:line: message`; one bad file does not
    /// hide the problems of the next.
    pub fn load(paths: &[PathBuf]) -> Result<HolidayCalendar, Vec<String>> {
        let mut calendar = HolidayCalendar::builtin();
        calendar.merge(HolidayCalendar::load_without_builtin(paths)?);
        Ok(calendar)
    }

    /// Only the files in `paths`, for an operator who must correct a
    /// built-in date (merging only ever adds dates, so a wrong provisional
    /// date can only be dropped by replacing the built-in file with a copy).
    pub fn load_without_builtin(paths: &[PathBuf]) -> Result<HolidayCalendar, Vec<String>> {
        let mut calendar = HolidayCalendar::default();
        let mut problems = Vec::new();
        for path in paths {
            let shown = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => match HolidayCalendar::parse(&text, &shown) {
                    Ok(file) => calendar.merge(file),
                    Err(errors) => problems.extend(errors.iter().map(ToString::to_string)),
                },
                Err(e) => problems.push(format!("{shown}: cannot read the holiday file: {e}")),
            }
        }
        if problems.is_empty() { Ok(calendar) } else { Err(problems) }
    }
}

#[cfg(test)]
#[path = "holidays_tests.rs"]
mod tests;
