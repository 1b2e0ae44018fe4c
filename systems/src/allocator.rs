//! The allocator of the `highstorm` binary and of the benchmarks (included by path: the
//! library leaves the choice to whoever links it).
//!
//! mimalloc, because a simulated run allocates small objects by the million (messages, trace
//! events, history values), with purging turned off: by default mimalloc hands memory it has
//! not reused for a second back to the OS, so run after run of a sweep got fresh pages that
//! the kernel had to zero (transparent huge pages: 2 MiB at a time). On the 25-node broadcast
//! scenario that was about a tenth of a run's wall time (40 seeds on one thread: 3,900 page
//! faults and 2.3–2.9 s with purging, 430 and 2.2 s without). A sweep's memory stays at its
//! high-water mark instead, which is what a test harness wants (a 1000-node sweep on two
//! threads: about 600 MB). `MIMALLOC_PURGE_DELAY` in the environment still wins.

/// The global allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `enum mi_option_e` of mimalloc.h (v2 and v3; libmimalloc-sys
/// exports no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Turns mimalloc's purging off; call first thing in `main`. `MIMALLOC_PURGE_DELAY` in the
/// environment (milliseconds; mimalloc reads it itself) still wins.
#[allow(unsafe_code)]
pub(crate) fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` takes an option and a value by value and only stores the value
    // (atomically) in mimalloc's option table; -1 is the documented "never purge" value of
    // `purge_delay`. Nothing is borrowed or freed.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
    }
}
