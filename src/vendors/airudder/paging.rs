//! When a paged `/detail` listing has been read to its end. A lookup may say
//! "this call does not exist" (safe to redial) only from the whole listing,
//! and AIRudder's paging is not public: `total` may be missing, and a server
//! may cap the page size below what was asked without saying so. So the
//! listing counts as complete only on proof:
//!
//! - with `total`: once that many rows were read;
//! - without it: an empty page, or a short page after a full one (the
//!   server returned as many rows as asked, so it does not cap below that:
//!   a shorter page is the last).
//!
//! A short page before any full one might be a cap, an empty page while
//! `total` says more rows exist, and reaching `detail_max_pages` leave the
//! listing incomplete; reading goes on as far as it can (a call found on a
//! later page still counts), but absence then proves nothing.

/// Where reading a listing stands after each page.
#[derive(Debug, Clone)]
pub struct Pager {
    page_size: usize,
    max_pages: u32,
    page: u32,
    rows: u64,
    full_page_seen: bool,
    /// Why the listing cannot be trusted to be complete, once known.
    doubt: Option<String>,
    done: bool,
}

impl Pager {
    pub fn new(page_size: u32, max_pages: u32) -> Pager {
        Pager {
            page_size: page_size.max(1) as usize,
            max_pages: max_pages.max(1),
            page: 0,
            rows: 0,
            full_page_seen: false,
            doubt: None,
            done: false,
        }
    }

    /// The next page to ask for, or None when reading is over.
    pub fn next_page(&mut self) -> Option<u32> {
        if self.done {
            return None;
        }
        if self.page >= self.max_pages {
            self.doubt.get_or_insert_with(|| format!("stopped at the page limit ({} pages)", self.max_pages));
            self.done = true;
            return None;
        }
        self.page += 1;
        Some(self.page)
    }

    /// Take in the page just read: `rows` rows, and `total` if it said one.
    pub fn took(&mut self, rows: usize, total: Option<u64>) {
        self.rows += rows as u64;
        let page = self.page;
        if rows == 0 {
            if let Some(t) = total.filter(|t| self.rows < *t) {
                self.doubt(format!("page {page} is empty but total says {t} rows and {} were read", self.rows));
            }
            self.done = true;
            return;
        }
        match total {
            Some(t) if self.rows >= t => self.done = true,
            // `total` says more rows: read on, whatever the page's size.
            Some(_) => {}
            None if rows >= self.page_size => self.full_page_seen = true,
            None if self.full_page_seen => self.done = true,
            None => self.doubt(format!(
                "page {page} has {rows} rows of the {} asked and no total: the server may cap its pages",
                self.page_size
            )),
        }
    }

    fn doubt(&mut self, why: String) {
        self.doubt.get_or_insert(why);
    }

    /// Stop reading early (the row looked for was found).
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// None when the listing was read to its proven end; else why not.
    pub fn incomplete(&self) -> Option<&str> {
        self.doubt.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read `pages` (rows per page, total) through a pager; the pages it
    /// asked for and its verdict.
    fn read(size: u32, max: u32, pages: &[(usize, Option<u64>)]) -> (u32, Option<String>) {
        let mut p = Pager::new(size, max);
        let mut asked = 0;
        while let Some(n) = p.next_page() {
            asked = n;
            let (rows, total) = pages.get(n as usize - 1).copied().unwrap_or((0, None));
            p.took(rows, total);
        }
        (asked, p.incomplete().map(str::to_string))
    }

    #[test]
    fn a_total_ends_the_listing() {
        assert_eq!(read(10, 100, &[(10, Some(25)), (10, Some(25)), (5, Some(25))]), (3, None));
        // Short pages with a total still read on (the server caps at 4).
        assert_eq!(read(10, 100, &[(4, Some(12)), (4, Some(12)), (4, Some(12))]), (3, None));
        assert_eq!(read(10, 100, &[(0, Some(0))]), (1, None));
    }

    #[test]
    fn without_total_only_an_empty_page_or_a_short_page_after_a_full_one_ends_it() {
        assert_eq!(read(10, 100, &[(10, None), (10, None), (0, None)]), (3, None));
        assert_eq!(read(10, 100, &[(10, None), (3, None)]), (2, None));
        assert_eq!(read(10, 100, &[(0, None)]), (1, None), "a task without rows");
    }

    #[test]
    fn a_possible_cap_an_early_empty_page_or_the_page_limit_leave_it_incomplete() {
        // First page shorter than asked, no total: read on, but absence proves nothing.
        let (asked, why) = read(100, 50, &[(2, None), (0, None)]);
        assert_eq!(asked, 2);
        assert!(why.unwrap().contains("may cap"));
        let (_, why) = read(100, 50, &[(2, None), (2, None), (2, None)]);
        assert!(why.unwrap().contains("may cap"));
        // Total says more than the pages hold.
        let (_, why) = read(2, 50, &[(2, Some(5)), (0, Some(5))]);
        assert!(why.unwrap().contains("total says 5"));
        // The page limit.
        let (asked, why) = read(2, 3, &[(2, None), (2, None), (2, None), (2, None)]);
        assert_eq!(asked, 3);
        assert!(why.unwrap().contains("page limit"));
        let (_, why) = read(2, 3, &[(2, Some(100)); 5]);
        assert!(why.unwrap().contains("page limit"));
    }

    #[test]
    fn stopping_early_is_not_a_doubt() {
        let mut p = Pager::new(10, 5);
        assert_eq!(p.next_page(), Some(1));
        p.took(10, None);
        p.stop();
        assert_eq!(p.next_page(), None);
        assert_eq!(p.incomplete(), None);
    }
}
