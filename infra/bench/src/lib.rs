//! What the bench binaries read of a process they measure.

/// A memory figure of a process in KiB from `/proc/<pid>/status` (Linux only), e.g. `VmRSS`
/// (resident now) or `VmHWM` (peak resident so far).
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    line.split_whitespace().next()?.parse().ok()
}
