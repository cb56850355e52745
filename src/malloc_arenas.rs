//! How many malloc arenas the daemon's threads share (glibc only).
//!
//! WHY: glibc gives each thread that allocates under contention an arena of
//! its own, up to 8 per core. The daemon runs the tokio workers, one thread
//! per pooled SQLite connection and tokio's blocking pool; memory freed in
//! one arena is not reused by another, so the peak RSS is about the sum of
//! every arena's own peak. Measured on the end-to-end bench (100,000
//! contacts, callbacks from 60 senders, docs/benchmarks.md): peak RSS
//! 86 MiB with glibc's default, 67 MiB with two arenas, and no slower.

/// The arenas used unless the operator set `MALLOC_ARENA_MAX`.
pub const DEFAULT_ARENAS: i32 = 2;

/// Cap glibc's arenas at [`DEFAULT_ARENAS`], unless `MALLOC_ARENA_MAX` is
/// set (glibc reads that itself, and the operator's choice wins). Call it
/// first thing in `main`, before any other thread exists.
pub fn cap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; called before any
        // other thread of this process exists, so no allocation races it.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, DEFAULT_ARENAS);
        }
    }
}
