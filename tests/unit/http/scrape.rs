use super::*;

#[test]
fn gzip_is_chosen_when_accepted_and_not_refused() {
    let enc = Encoding::from_accept;
    assert_eq!(enc(None), Encoding::Plain);
    assert_eq!(enc(Some("gzip")), Encoding::Gzip);
    assert_eq!(enc(Some("identity, GZIP;q=0.5")), Encoding::Gzip);
    assert_eq!(enc(Some("deflate, *")), Encoding::Gzip);
    assert_eq!(enc(Some("gzip;q=0")), Encoding::Plain);
    assert_eq!(enc(Some("br, deflate")), Encoding::Plain);
}

/// Text of `len` bytes, written in pieces of `piece`, as one rendering.
fn rendered(len: usize, piece: usize) -> (String, Arc<Rendering>) {
    use std::fmt::Write as _;
    let text: String = (0..len)
        .map(|i| match i % 97 {
            0 => '\n',
            n => char::from(b'a' + (n * 7 % 26) as u8),
        })
        .collect();
    let mut c = Compressing::new(0);
    for part in text.as_bytes().chunks(piece) {
        let _ = c.write_str(std::str::from_utf8(part).unwrap_or_default());
    }
    (text, Arc::new(c.finish()))
}

#[test]
fn the_gzip_member_and_its_windows_each_give_the_whole_text() {
    use std::io::Read as _;
    for len in [
        0,
        1,
        WINDOW - 1,
        WINDOW,
        WINDOW + 1,
        2 * WINDOW,
        3 * WINDOW + 17,
    ] {
        for piece in [1000, 4096, 70_000] {
            let (text, r) = rendered(len, piece);
            assert_eq!(r.plain_len, len);
            let mut whole = String::new();
            let read = flate2::read::GzDecoder::new(&r.gzip[..]).read_to_string(&mut whole);
            assert!(read.is_ok(), "the member inflates ({len}, {piece})");
            assert_eq!(whole, text, "as one member ({len}, {piece})");
            let mut inflater = Inflater::new(r.clone());
            let mut windows = Vec::new();
            while let Some(w) = inflater.next_window() {
                assert!(w.len() <= WINDOW);
                windows.extend_from_slice(&w);
            }
            assert_eq!(
                windows,
                text.as_bytes(),
                "window by window ({len}, {piece})"
            );
        }
    }
}

#[tokio::test]
async fn concurrent_scrapes_of_an_unchanged_state_share_one_rendering() {
    use crate::state::{AccountView, Action, ServerInfo, State};
    use crate::vocabulary::Endpoint;
    let state = State::new(["a"]);
    let r = Renderings::default();
    let snap = state.read();
    let (a, b) = tokio::join!(r.get(&snap, Format::Text), r.get(&snap, Format::Text));
    assert!(Arc::ptr_eq(&a, &b), "one rendering for both");
    let dur = std::time::Duration::from_millis(3);
    state.record_request("a", Endpoint::Sync, Some(200), dur, None);
    let c = r.get(&state.read(), Format::Text).await;
    assert!(
        Arc::ptr_eq(&a, &c),
        "an API request does not throw the rendering away"
    );
    let info = ServerInfo {
        id: "s1".into(),
        ..ServerInfo::default()
    };
    let now = std::time::SystemTime::now();
    state.publish(
        "a",
        AccountView::default().relisted(vec![(info, Action::None)], now),
    );
    let d = r.get(&state.read(), Format::Text).await;
    assert!(!Arc::ptr_eq(&a, &d), "a published view is rendered anew");
    drop((a, b, c));
    let e = r.get(&state.read(), Format::OpenMetrics).await;
    assert!(!Arc::ptr_eq(&d, &e), "each format has its rendering");
    let mut text = Vec::new();
    let mut inflater = Inflater::new(e.clone());
    while let Some(w) = inflater.next_window() {
        assert!(w.len() <= WINDOW);
        text.extend_from_slice(&w);
    }
    assert_eq!(text.len(), e.plain_len);
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("server_id=\"s1\""), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
}
