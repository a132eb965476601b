#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_sync_monitor::testing::fuzz::definitions(data));
