//! The first use of randomness in a process is what a cold start pays for it: aws-lc must be
//! built to seed from the kernel (`AWS_LC_SYS_NO_JITTER_ENTROPY`, set in `.cargo/config.toml`),
//! not from CPU jitter entropy, whose start-up alone takes 20–40 ms of CPU. Its own test
//! binary, so that nothing in this process has drawn a random byte before.

use std::time::Duration;

/// CPU time of the calling thread: what the seeding costs, whatever else the machine runs.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[test]
fn the_first_random_token_of_a_process_is_cheap() {
    let started = thread_cpu();
    let token = chatting_shared::auth::random_token().expect("randomness");
    let took = thread_cpu() - started;
    assert_eq!(token.len(), 43);
    // Seeding from getrandom(2) takes tens of microseconds of CPU; jitter's start-up 20 ms or more.
    assert!(took < Duration::from_millis(8), "the first random token took {took:?}: is jitter entropy back on?");
}
