use super::*;

#[test]
fn debug_and_display_mask_the_value() {
    let s = Secret::new("tok-123456");
    assert_eq!(format!("{s}"), "****");
    assert!(!format!("{s:?}").contains("tok-123456"));
    assert!(!format!("{:?}", Some(vec![s.clone()])).contains("123456"));
    assert_eq!(&*s.expose(), "tok-123456");
}

#[test]
fn a_file_secret_follows_the_file_and_keeps_the_last_good_value() {
    let dir = std::env::temp_dir().join(format!("mcp-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("token");
    std::fs::write(&path, "first-token\n").expect("write");
    let s = Secret::from_file(&path).expect("readable");
    assert_eq!(&*s.expose(), "first-token");
    assert!(!format!("{s:?} {s}").contains("first"));

    // Rotated the way Kubernetes does it: a new file swapped in by rename.
    let next = dir.join("token.new");
    std::fs::write(&next, "second-token").expect("write");
    std::fs::rename(&next, &path).expect("rename");
    assert_eq!(&*s.expose(), "second-token");

    // Emptied or removed: the last good value stays.
    std::fs::write(&path, "  \n").expect("write");
    assert_eq!(&*s.expose(), "second-token");
    std::fs::remove_file(&path).expect("remove");
    assert_eq!(&*s.expose(), "second-token");
    std::fs::write(&path, "third-token").expect("write");
    assert_eq!(&*s.expose(), "third-token");

    assert!(matches!(
        Secret::from_file(dir.join("missing")),
        Err(SecretFileError::Read(_))
    ));
    std::fs::write(dir.join("empty"), "\n").expect("write");
    assert!(matches!(
        Secret::from_file(dir.join("empty")),
        Err(SecretFileError::Empty)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_secrets_are_the_same_credential_when_they_name_the_same_file() {
    let dir = std::env::temp_dir().join(format!("mcp-secret-eq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("a"), "same").expect("write");
    std::fs::write(dir.join("b"), "same").expect("write");
    let a1 = Secret::from_file(dir.join("a")).expect("a");
    let a2 = Secret::from_file(dir.join("a")).expect("a");
    let b = Secret::from_file(dir.join("b")).expect("b");
    assert_eq!(a1, a2);
    assert_ne!(a1, b);
    assert_ne!(a1, Secret::new("same"));
    let _ = std::fs::remove_dir_all(&dir);
}
