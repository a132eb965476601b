use super::*;
use crate::definitions::inspect;
use crate::vocabulary::Rule;

fn inspected(tools: &str) -> Inspected {
    inspect(format!(r#"{{"tools":{tools}}}"#).as_bytes()).expect("parses")
}

#[test]
fn a_look_is_needed_first_after_a_change_and_after_a_reload_only() {
    let r = Reviewed {
        digest: 7,
        generation: 2,
        ..Reviewed::default()
    };
    assert!(needs_look(None, 7, 2));
    assert!(!needs_look(Some(&r), 7, 2));
    assert!(needs_look(Some(&r), 8, 2));
    assert!(needs_look(Some(&r), 7, 3));
}

#[test]
fn without_pins_there_is_no_drift_and_with_them_each_kind_is_counted() {
    let now = inspected(r#"[{"name":"a","description":"<IMPORTANT>x"},{"name":"b"}]"#);
    let (r, c) = judge(&now, None);
    assert_eq!(r.drift, None);
    assert!(c.is_empty());
    assert_eq!(r.suspicious[Rule::InstructionMarkup.index()], 1);
    let (r, _) = judge(&now, Some(None));
    assert_eq!(
        r.drift,
        Some(Drift {
            added: 2,
            changed: 0,
            removed: 0
        }),
        "a server without pins has every definition added"
    );
    let pinned = inspected(r#"[{"name":"a","description":"<IMPORTANT>x"},{"name":"c"}]"#);
    let (r, c) = judge(&now, Some(Some(&pinned.definitions)));
    assert_eq!(
        r.drift,
        Some(Drift {
            added: 1,
            changed: 0,
            removed: 1
        })
    );
    assert_eq!(
        (&c.added[..], &c.removed[..]),
        (&["tool:b".to_owned()][..], &["tool:c".to_owned()][..])
    );
    let other = inspected(r#"[{"name":"a","description":"<IMPORTANT>y"},{"name":"c"}]"#);
    let (_, c2) = judge(&other, Some(Some(&pinned.definitions)));
    assert_ne!(
        names((&c.added, &c.changed)),
        names((&c2.added, &c2.changed))
    );
}
