//! The benchmark: the daemon (the release binary, as its own process) against the
//! simulated Cloudflare API, at a size far beyond a typical account.
//!
//!     cargo bench --bench cycle                      # 10,000 servers
//!     BENCH_SERVERS=2000 cargo bench --bench cycle   # another size
//!     cargo bench --bench cycle -- soak              # 2,000 cycles with servers coming and going
//!     cargo bench --bench cycle -- heal              # sync rate at the request budget
//!     cargo bench --bench cycle -- load              # /metrics with 1-64 concurrent scrapers
//!     cargo bench --bench cycle -- slow-syncs        # syncs of 2 s, and an account beside
//!     cargo bench --bench cycle -- accounts          # 100 accounts x 100 servers, one token
//!     cargo bench --bench cycle -- decode            # one list page through the decoder
//!     cargo bench --bench cycle -- exposition        # one rendering of /metrics, both formats
//!     cargo bench --bench cycle -- pins              # the cost of tool pinning
//!     cargo bench --bench cycle -- portals           # 1,000 portals x 10 members, off and on
//!
//! `BENCH_DAEMON=<wrapper>` runs the daemon through a wrapper (a heap profiler, say), and
//! `BENCH_FIRST_CYCLE_ONLY=1` stops the default mode after the first cycle's syncs;
//! `BENCH_LATER_CYCLES=k` then lets k more cycles run (2 s apart) and prints the peak RSS
//! through them, when the previous listing and the new one are both held.
//! `BENCH_TIMELINE=1` prints, after the first cycle, when the simulated API answered each
//! request (ms from the first answer): where the cycle's time goes, round by round.
//!
//! Defaults: 20 tools per server with input schemas (a page is megabytes), 50 ms API
//! latency, 1 % stale. It prints time to the first complete cycle, API requests by kind,
//! peak RSS, CPU seconds, /metrics render time (median and max of 20 scrapes) and size,
//! and idle CPU between cycles.

mod decode;
mod exposition;
mod first;
mod fleet;
mod load;
mod pins;
mod portals;
mod scale;
mod support;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().collect();
    rt.block_on(async {
        if args.iter().any(|a| a == "soak") {
            fleet::soak().await;
        } else if args.iter().any(|a| a == "heal") {
            fleet::heal().await;
        } else if args.iter().any(|a| a == "load") {
            load::load().await;
        } else if args.iter().any(|a| a == "slow-syncs") {
            scale::slow_syncs().await;
        } else if args.iter().any(|a| a == "decode") {
            decode::decode().await;
        } else if args.iter().any(|a| a == "exposition") {
            exposition::exposition();
        } else if args.iter().any(|a| a == "pins") {
            pins::pins().await;
        } else if args.iter().any(|a| a == "portals") {
            portals::portals().await;
        } else if args.iter().any(|a| a == "accounts") {
            scale::many_accounts().await;
        } else {
            first::main_bench().await;
        }
    });
}
