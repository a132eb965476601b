//! The memory allocator's settings, and the moment to give freed memory back.
//!
//! The daemon allocates in bursts: a listing's pages are decoded, reduced and merged, then
//! freed at once. glibc keeps what a burst freed inside its heap (touched, so counted in
//! the resident set) unless asked to return it; other allocators need nothing of this.

/// One glibc malloc arena instead of one per thread: the daemon allocates little and
/// rarely, and per-thread arenas kept a quarter of its peak memory as fragmentation
/// (measured by the benchmark). And a fixed mmap threshold: a large block (a rendering of
/// `/metrics`, a list page) is mapped on its own and returned to the system when freed,
/// instead of glibc raising the threshold and keeping such blocks on its heap after a burst
/// of scrapes. `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` in the environment still win.
/// Call it first thing in `main`, before any other thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists and a failure (a zero return) is harmless.
    unsafe {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        }
    }
}

/// Nothing to tune outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

/// Returns the whole pages of freed heap memory to the system. Called when a burst has
/// just been freed (a listing's pages, once merged): without it they stay resident, and
/// what comes next (publishing the listing) adds to them. It walks the free chunks of one
/// arena: well under a millisecond at 10,000 servers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free() {
    // SAFETY: malloc_trim only releases memory the allocator holds free; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Nothing to release outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free() {}
