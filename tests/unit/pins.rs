use std::collections::BTreeMap;

use super::format::read;
use super::*;
use crate::definitions::inspect;

fn table(tools: &str) -> StableTable {
    inspect(format!(r#"{{"tools":{tools}}}"#).as_bytes())
        .expect("parses")
        .definitions
}

fn written(accounts: &BTreeMap<String, BTreeMap<String, StableTable>>) -> String {
    let mut out = Vec::new();
    write(accounts, &mut out).expect("writes");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn a_written_pin_file_reads_back_and_is_sorted_one_definition_per_line() {
    let mut accounts = BTreeMap::new();
    let mut servers = BTreeMap::new();
    servers.insert("srv-b".to_owned(), table(r#"[{"name":"z"},{"name":"a"}]"#));
    servers.insert("srv-a".to_owned(), table("[]"));
    accounts.insert("acc".to_owned(), servers);
    accounts.insert("empty".to_owned(), BTreeMap::new());
    let text = written(&accounts);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], r#"  "version": 1,"#);
    assert_eq!(lines[2], r#"  "hash": "sha256","#);
    assert_eq!(lines[3], r#"  "canonical_form": 1,"#);
    assert_eq!(lines[5], r#"    "acc": {"#);
    assert_eq!(lines[6], r#"      "srv-a": {},"#);
    assert_eq!(lines[7], r#"      "srv-b": {"#);
    assert!(lines[8].starts_with(r#"        "tool:a": ""#), "{text}");
    assert!(lines[9].starts_with(r#"        "tool:z": ""#), "{text}");
    serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
    let set = read(text.as_bytes()).expect("reads back");
    assert_eq!(set.servers(), 2);
    assert_eq!(set.definitions(), 2);
    assert_eq!(set.get("acc", "srv-b"), accounts["acc"].get("srv-b"));
    assert!(set.get("acc", "srv-c").is_none());
    assert_eq!(
        written(&accounts),
        text,
        "the same pins write the same bytes"
    );
}

#[test]
fn drift_counts_what_was_added_changed_and_removed_and_no_pins_is_all_added() {
    let pinned = table(r#"[{"name":"a","description":"x"},{"name":"gone"}]"#);
    let now = table(r#"[{"description":"y","name":"a"},{"name":"new"}]"#);
    let d = drift(&now, Some(&pinned));
    assert_eq!(
        (d.added, d.changed, d.removed),
        (
            vec!["tool:new".to_owned()],
            vec!["tool:a".to_owned()],
            vec!["tool:gone".to_owned()]
        )
    );
    let reordered = table(r#"[{"name":"gone"},{"description":"x","name":"a"}]"#);
    assert!(drift(&reordered, Some(&pinned)).is_empty());
    assert_eq!(drift(&now, None).added.len(), 2);
}

#[test]
fn a_bad_pin_file_names_what_is_wrong() {
    let h = "0".repeat(64);
    let head = r#""version":1,"hash":"sha256","canonical_form":1"#;
    let cases = [
        (
            format!(r#"{{{head},"accounts":{{"a":{{"s":{{"tool:x":"nothex"}}}}}}}}"#),
            r#"`accounts.a.s."tool:x"` = "nothex": not a SHA-256"#,
        ),
        (
            format!(r#"{{{head},"accounts":{{"a":{{"s":{{"x":"{h}"}}}}}}}}"#),
            "neither `tool:<name>` nor `prompt:<name>`",
        ),
        (
            format!(r#"{{{head},"accounts":{{"a":{{"s":{{}},"s":{{}}}}}}}}"#),
            "`accounts.a.s` appears twice",
        ),
        (
            r#"{"version":2,"hash":"sha256","canonical_form":1,"accounts":{}}"#.to_owned(),
            "`version` 2 is not understood",
        ),
        (
            r#"{"version":1,"hash":"md5","canonical_form":1,"accounts":{}}"#.to_owned(),
            "`hash` \"md5\" is not understood",
        ),
        (
            r#"{"version":1,"hash":"sha256","canonical_form":9,"accounts":{}}"#.to_owned(),
            "export the pins again",
        ),
        (
            format!(r#"{{{head},"acounts":{{}}}}"#),
            "unknown key `acounts`",
        ),
        (
            r#"{"hash":"sha256","canonical_form":1,"accounts":{}}"#.to_owned(),
            "`version` is missing",
        ),
        (
            format!(r#"{{{head},"accounts":{{}}}} trailing"#),
            "trailing",
        ),
        ("[]".to_owned(), "a pin file"),
    ];
    for (text, want) in cases {
        let e = read(text.as_bytes()).expect_err(&text);
        assert!(e.contains(want), "{text}\n→ {e}");
    }
}

#[test]
fn a_pin_file_is_reloaded_when_it_changes_and_a_broken_one_keeps_the_last_good_pins() {
    let dir = std::env::temp_dir().join(format!("pins-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pins.json");
    let mut accounts = BTreeMap::new();
    accounts.insert(
        "acc".to_owned(),
        BTreeMap::from([("s".to_owned(), table(r#"[{"name":"a"}]"#))]),
    );
    std::fs::write(&path, written(&accounts)).unwrap();
    let f = PinFile::open(&path).expect("loads");
    let (p1, g1) = f.current();
    assert_eq!(p1.definitions(), 1);
    assert_eq!(f.current().1, g1, "unchanged file, same generation");
    accounts
        .get_mut("acc")
        .unwrap()
        .insert("t".to_owned(), table(r#"[{"name":"b"},{"name":"c"}]"#));
    std::fs::write(&path, written(&accounts)).unwrap();
    let (p2, g2) = f.current();
    assert_eq!((p2.definitions(), p2.servers()), (3, 2));
    assert_ne!(g2, g1);
    std::fs::write(&path, "{ broken").unwrap();
    let (p3, g3) = f.current();
    assert_eq!((p3.definitions(), g3), (3, g2), "the last good pins stay");
    assert!(!f.status().ok);
    assert!(PinFile::open(dir.join("missing.json"))
        .expect_err("missing")
        .to_string()
        .contains("missing.json: cannot read it"));
    std::fs::remove_dir_all(&dir).ok();
}

proptest::proptest! {
    /// A pin file is the operator's input: whatever its bytes, reading it answers, never
    /// panics.
    #[test]
    fn any_bytes_read_as_a_pin_file_are_an_answer(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = read(bytes.as_slice());
    }

    #[test]
    fn a_mutated_pin_file_is_an_answer(cut in 0usize..400, byte in proptest::num::u8::ANY) {
        let h = "ab".repeat(32);
        let text = format!(r#"{{"version":1,"hash":"sha256","canonical_form":1,"accounts":{{"a":{{"s":{{"tool:x":"{h}","prompt:y":"{h}"}},"t":{{}}}}}}}}"#);
        let mut bytes = text.into_bytes();
        let at = cut % bytes.len();
        bytes[at] = byte;
        let _ = read(bytes.as_slice());
        bytes.truncate(at);
        let _ = read(bytes.as_slice());
    }
}
