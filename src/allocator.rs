//! The process's memory allocator: jemalloc (feature `jemalloc`, on by
//! default), for Rust's allocations and SQLite's alike.
//!
//! WHY: allocation was the largest cost of ours in every hot stage's
//! profile (malloc/free 16–19 % of processing, dispatch and ingest; glibc's
//! `malloc_consolidate` alone 3.5 % of ingest). The same release binary, run
//! under jemalloc by `LD_PRELOAD` and alternated with glibc on one machine
//! (docs/benchmarks.md, "The allocator"), dispatched and processed about a
//! fifth faster and finished the end-to-end run in 38–40 s against 48–50 s.
//!
//! jemalloc's defaults trade memory for that speed: 4 arenas per core and
//! freed pages kept for 10 s put the end-to-end peak at 78–82 MiB, over the
//! 64 MiB target (glibc with two arenas: 60–62 MiB). [`OPTIONS`] keep one
//! arena (the daemon's threads share it; each keeps a small cache of its
//! own), smaller caches, and give freed pages back within a second: about
//! 61 MiB, and most of the speed. An operator's `MALLOC_CONF` in the
//! environment is read after them and wins, option by option.
//!
//! The symbols are unprefixed, so jemalloc is also the `malloc` that SQLite's
//! C code calls (SQLite's page cache and statements are a large part of the
//! heap). Without the feature (heap profilers that interpose `malloc`, such
//! as heaptrack; sanitizer builds) glibc's malloc is used, with its arenas
//! capped at two ([`init`]).

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its first allocation (before `main`):
/// - `narenas:1`: one arena for every thread (threads keep their own small
///   caches, so they rarely meet on its lock);
/// - `tcache_max:4096`: those caches hold blocks of up to 4 KiB, not 32 KiB
///   (end to end 60.5–61 MiB against 63–64 MiB; processing 3–5 % slower);
/// - `dirty_decay_ms:1000`, `muzzy_decay_ms:0`: pages freed are given back to
///   the system after about a second instead of ten (0 gave them back at
///   once: 60 MiB, but 41–46 s end to end).
pub const OPTIONS: &std::ffi::CStr = c"narenas:1,tcache_max:4096,dirty_decay_ms:1000,muzzy_decay_ms:0";

/// [`OPTIONS`] where jemalloc looks for them: a pointer to a C string, named
/// `malloc_conf` (jemalloc's own definition of it is weak).
#[cfg(feature = "jemalloc")]
#[unsafe(export_name = "malloc_conf")]
pub static MALLOC_CONF: Option<&'static u8> = Some(&OPTIONS.to_bytes_with_nul()[0]);

/// The arenas glibc's malloc may use, unless the operator set
/// `MALLOC_ARENA_MAX` (builds without jemalloc).
pub const GLIBC_ARENAS: i32 = 2;

/// Call first thing in `main`, before any other thread exists. With jemalloc
/// there is nothing to do. With glibc's malloc it caps glibc's arenas at
/// [`GLIBC_ARENAS`]: glibc gives each thread that allocates under contention
/// an arena of its own, up to 8 per core, and memory freed in one arena is
/// not reused by another, so the peak RSS is about the sum of every arena's
/// own peak (end to end with 60 senders: 86 MiB with glibc's default, 67 MiB
/// with two arenas, and no slower).
pub fn init() {
    #[cfg(all(not(feature = "jemalloc"), target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; called before any
        // other thread of this process exists, so no allocation races it.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, GLIBC_ARENAS);
        }
    }
}

#[cfg(all(test, feature = "jemalloc"))]
mod tests {
    use std::ffi::CStr;

    /// `name`'s value from jemalloc's control interface.
    fn mallctl<T: Copy + Default>(name: &CStr) -> T {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` is a writable T of `len` bytes, the size jemalloc
        // documents for these names; nothing is written back (null new value).
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(name.as_ptr(), (&raw mut value).cast(), &mut len, std::ptr::null_mut(), 0)
        };
        assert_eq!(rc, 0, "mallctl({name:?})");
        value
    }

    #[test]
    fn jemalloc_runs_with_the_options_compiled_in() {
        // A misnamed `malloc_conf` symbol would be ignored without a word.
        assert_eq!(mallctl::<u32>(c"opt.narenas"), 1);
        assert_eq!(mallctl::<usize>(c"opt.tcache_max"), 4096);
        assert_eq!(mallctl::<isize>(c"opt.dirty_decay_ms"), 1000);
        assert_eq!(mallctl::<isize>(c"opt.muzzy_decay_ms"), 0);
    }

    #[test]
    fn c_code_calls_jemalloc_too() {
        // The `malloc` every shared library and the linked-in SQLite resolve
        // to is jemalloc's (its symbols are unprefixed), not glibc's.
        // SAFETY: dlsym with a NUL-terminated name only looks the symbol up.
        let resolved = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"malloc".as_ptr()) };
        assert_eq!(resolved as usize, tikv_jemalloc_sys::malloc as *const () as usize);
    }
}
