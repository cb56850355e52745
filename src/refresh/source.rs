//! Reading a refresh's source: the newest file of a drop folder, or a CSV
//! answered by a URL. What comes back is parsed by the import's own CSV
//! reader, on a blocking thread (`import::background`).

use crate::config::{RefreshSource, UrlAuth};
use crate::import::{Background, CsvRows, ImportError, RowContext, background};
use std::path::PathBuf;
use std::time::SystemTime;

/// The largest CSV a URL may answer: a full export of a few million
/// contacts. Past it the run fails instead of filling memory.
pub const MAX_DOWNLOAD_BYTES: usize = 512 << 20;

/// A source read and ready to parse, and what the run record shows of it.
pub struct Opened {
    /// The file read, or the URL (never credentials).
    pub shown: String,
    pub rows: Background,
}

/// Open the source. The error says what went wrong, naming the pattern or
/// URL (never a credential): the run fails and nothing is changed.
pub async fn open(source: &RefreshSource, ctx: RowContext) -> Result<Opened, String> {
    match source {
        RefreshSource::Glob { pattern } => {
            let pattern = pattern.clone();
            let path = tokio::task::spawn_blocking(move || newest_match(&pattern))
                .await
                .map_err(|e| format!("looking for the file: {e}"))??;
            let shown = path.display().to_string();
            let rows = background(move || {
                let file = std::fs::File::open(&path).map_err(ImportError::Read)?;
                CsvRows::new(std::io::BufReader::new(file), ctx, None)
            });
            Ok(Opened { shown, rows })
        }
        RefreshSource::Url { url, auth, timeout } => {
            let shown = source.describe();
            let body = download(url, auth, *timeout).await.map_err(|e| format!("{shown}: {e}"))?;
            let rows = background(move || CsvRows::new(std::io::Cursor::new(body), ctx, None));
            Ok(Opened { shown, rows })
        }
    }
}

/// The newest file matching `pattern` by modification time: the CRM drops
/// a full export each time, so the newest is the current list. Ties go to
/// the name that sorts last (`export-2026-12-05.csv` after `...-04.csv`).
fn newest_match(pattern: &str) -> Result<PathBuf, String> {
    let paths = glob::glob(pattern).map_err(|e| format!("`{pattern}` is not a file pattern: {e}"))?;
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in paths {
        let path = entry.map_err(|e| format!("`{pattern}`: {e}"))?;
        let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().map_err(|e| format!("{}: {e}", path.display()))?;
        if newest.as_ref().is_none_or(|(t, p)| (modified, &path) > (*t, p)) {
            newest = Some((modified, path));
        }
    }
    newest.map(|(_, p)| p).ok_or_else(|| format!("no file matches `{pattern}`"))
}

/// GET the URL with its credentials; a non-2xx answer is an error naming
/// the status (the body is not shown: it may echo credentials).
async fn download(url: &reqwest::Url, auth: &UrlAuth, timeout: std::time::Duration) -> Result<Vec<u8>, String> {
    let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
    let mut request = client.get(url.clone());
    request = match auth {
        UrlAuth::None => request,
        UrlAuth::Bearer(token) => request.bearer_auth(token.expose()),
        UrlAuth::Basic { user, password } => request.basic_auth(user, Some(password.expose())),
    };
    // reqwest's errors name the URL, which carries no credentials here
    // (they go in headers); `without_url` keeps the message short anyway.
    let mut response = request.send().await.map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
        if body.len() + chunk.len() > MAX_DOWNLOAD_BYTES {
            return Err(format!("the answer is larger than {MAX_DOWNLOAD_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
