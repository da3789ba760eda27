//! What the bench binaries (and the tests that time a cost) read of a process they measure.

/// A memory figure of a process in KiB from `/proc/<pid>/status` (Linux only), e.g. `VmRSS`
/// (resident now) or `VmHWM` (peak resident so far).
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    line.split_whitespace().next()?.parse().ok()
}

/// CPU time of the calling thread: what a piece of work costs, whatever else the machine runs.
pub fn thread_cpu() -> std::time::Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
