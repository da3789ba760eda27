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

/// The calling thread's CPU time in the kernel (system calls: sending, receiving, waiting),
/// at the kernel's accounting granularity; [`thread_cpu`] minus this is its own code's.
pub fn thread_system_cpu() -> std::time::Duration {
    // SAFETY: an all-zero rusage is a valid value, and getrusage writes one we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    std::time::Duration::new(usage.ru_stime.tv_sec as u64, usage.ru_stime.tv_usec as u32 * 1000)
}
