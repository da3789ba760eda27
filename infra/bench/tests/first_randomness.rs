//! The first use of randomness in a process is what a cold start pays for it: it must come
//! from the kernel (`getrandom(2)`, as ring draws it), not from a generator seeded by CPU
//! jitter entropy, whose start-up alone takes 20–40 ms of CPU (aws-lc's default). Its own
//! test binary, so that nothing in this process has drawn a random byte before.

use std::time::Duration;

use chatting_bench::thread_cpu;

#[test]
fn the_first_random_token_of_a_process_is_cheap() {
    let started = thread_cpu();
    let token = chatting_shared::auth::random_token().expect("randomness");
    let took = thread_cpu() - started;
    assert_eq!(token.len(), 43);
    // getrandom(2) takes microseconds of CPU; jitter entropy's start-up 20 ms or more.
    assert!(took < Duration::from_millis(8), "the first random token took {took:?}: is jitter entropy back on?");
}
