//! `decode`: one list page as the simulated API serves it (100 servers, 20 tools with
//! schemas each), decoded again and again in the daemon's own decoder, fed in 16 KiB chunks
//! as a socket delivers it. Beside it, serde_json merely walking the same bytes
//! (`IgnoredAny`): the floor any JSON decoder of this page starts from. Two shapes: schemas
//! of one long string (the main benchmark's), and object-heavy ones (20 properties of a few
//! short fields each, as real tool schemas are), where a decoder is slowest.
//! `DECODE_ONLY_OURS=1` runs the daemon's decoder alone on the object-heavy page (for a
//! profiler: `DECODE_ONLY_OURS=1 DECODE_ROUNDS=1500 perf record …`).

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, World};
use mcp_sync_monitor::testing::cloudflare::stream::PageDecoder;

use crate::support::*;

pub async fn decode() {
    println!("| page | decoder | ms per page | MiB/s | × the walk |");
    println!("|---|---|---|---|---|");
    for (shape, properties) in [("long strings", 0), ("object-heavy", 20)] {
        if only_ours() && properties == 0 {
            continue;
        }
        let mut world = World::new(fake::uniform_fleet(100, 20, 10));
        world.tool_schema_bytes = 1024;
        world.tool_schema_properties = properties;
        let api = FakeApi::start(world).await.expect("fake");
        let body = first_page(&api).await;
        one_shape(shape, &body);
    }
}

fn only_ours() -> bool {
    std::env::var_os("DECODE_ONLY_OURS").is_some()
}

fn one_shape(shape: &str, body: &[u8]) {
    let rounds = env_usize("DECODE_ROUNDS", 500);
    let per_page = |elapsed: Duration| elapsed.as_secs_f64() * 1000.0 / rounds as f64;

    let t = Instant::now();
    for _ in 0..rounds {
        let mut d = PageDecoder::new();
        for chunk in body.chunks(16 * 1024) {
            d.feed(chunk);
        }
        let (_, page) = d.finish().expect("the page decodes");
        assert_eq!(page.servers.len(), 100, "every server decoded");
    }
    let ours = per_page(t.elapsed());
    if only_ours() {
        println!("{shape}: the daemon's decoder {ours:.2} ms per page");
        return;
    }

    let t = Instant::now();
    for _ in 0..rounds {
        let walked: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(body);
        assert!(walked.is_ok(), "the page is JSON");
    }
    let floor = per_page(t.elapsed());

    // The close look a server's definitions get when their fingerprints are new.
    let page: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    let servers: Vec<String> = page["result"]
        .as_array()
        .map(|a| a.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    let t = Instant::now();
    for _ in 0..rounds {
        for s in &servers {
            let i = mcp_sync_monitor::testing::definitions::inspect(s.as_bytes());
            assert!(i.is_some(), "the server parses");
        }
    }
    let inspect = per_page(t.elapsed());

    let mib = body.len() as f64 / (1024.0 * 1024.0);
    let page = format!("{shape}, {mib:.2} MiB, {rounds} rounds");
    println!(
        "| {page} | the daemon's (scan, decode, fingerprint every definition) | {ours:.2} | {:.0} | {:.1} |",
        mib * 1000.0 / ours,
        ours / floor
    );
    println!(
        "| {page} | the close look at every server (stable fingerprints, rules) | {inspect:.2} | {:.0} | {:.1} |",
        mib * 1000.0 / inspect,
        inspect / floor
    );
    println!(
        "| {page} | serde_json walking the bytes (`IgnoredAny`, nothing kept) | {floor:.2} | {:.0} | 1 |",
        mib * 1000.0 / floor
    );
}
