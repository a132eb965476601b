//! The decisions, case by case.
use super::*;
use crate::cloudflare::model::{ApiMessage, ErrorDetails};
use crate::cloudflare::Endpoint;
use crate::config::Globs;
use crate::scheduler::listed::Listed;

const H: Duration = Duration::from_secs(3600);

fn config(tune: impl FnOnce(&mut Config)) -> Config {
    let env = [
        ("CLOUDFLARE_ACCOUNT_ID", "acc"),
        ("CLOUDFLARE_API_TOKEN", "t"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut c = crate::config::load(&crate::config::Flags::default(), &env).expect("valid");
    tune(&mut c);
    c
}

/// The listing's servers within the filters, each judged: what the cycle decides.
struct Plan {
    listed: Vec<Listed>,
    actions: Vec<Action>,
}

fn plan(
    mut listed: Vec<Listed>,
    memory: &HashMap<String, ServerMemory>,
    wall: SystemTime,
    now: Instant,
    cfg: &Config,
) -> Plan {
    listed.retain(|l| cfg.wants(&l.info.id, &l.info.name));
    let actions = listed
        .iter_mut()
        .map(|l| {
            let (stale, action) = judge(&l.info, memory, wall, now, cfg);
            l.info.stale = stale;
            action
        })
        .collect();
    Plan { listed, actions }
}

fn listed(id: &str, name: &str, synced_ago: Option<Duration>, now: SystemTime) -> Listed {
    listed_as(id, name, synced_ago, now, None)
}

fn listed_as(
    id: &str,
    name: &str,
    synced_ago: Option<Duration>,
    now: SystemTime,
    authentication_status: Option<&str>,
) -> Listed {
    let info = ServerInfo {
        id: id.into(),
        name: name.into(),
        last_successful_sync: synced_ago.map(|a| now - a),
        authentication_status: authentication_status.map(Into::into),
        ..ServerInfo::default()
    };
    Listed {
        info,
        ..Listed::default()
    }
}

#[test]
fn a_cycle_plans_sync_backoff_dry_run_and_filters_from_listing_memory_and_clock() {
    let wall = SystemTime::now();
    let now = Instant::now();
    let fleet = || {
        vec![
            listed("fresh", "a", Some(H), wall),
            listed("old", "b", Some(4 * H), wall),
            listed("never", "c", None, wall),
            listed("failing", "d", None, wall),
            listed("recovering", "e", None, wall),
            listed("hidden", "internal-x", None, wall),
            listed_as("manual", "f", None, wall, Some("manual")),
            listed_as("sign-in", "g", Some(4 * H), wall, Some("required")),
            listed_as("manual-fresh", "h", Some(H), wall, Some("manual")),
            listed_as("auth-stale", "i", Some(4 * H), wall, Some("stale")),
        ]
    };
    let memory: HashMap<String, ServerMemory> = [
        ("failing", now + H),
        ("recovering", now + Duration::from_secs(1)),
    ]
    .into_iter()
    .map(|(id, until)| {
        let m = ServerMemory {
            failures: 1,
            backoff_until: Some(until),
            ..ServerMemory::default()
        };
        (id.to_owned(), m)
    })
    .collect();
    let cfg = config(|c| c.exclude = Globs::new(["internal-*"]));
    let summary = |p: Plan| -> Vec<(String, bool, Action)> {
        p.listed
            .into_iter()
            .zip(p.actions)
            .map(|(l, a)| (l.info.id.into(), l.info.stale, a))
            .collect()
    };
    let got = summary(plan(fleet(), &memory, wall, now, &cfg));
    let want = |dry: Action| {
        vec![
            ("fresh".to_owned(), false, Action::None),
            ("old".to_owned(), true, dry),
            ("never".to_owned(), true, dry),
            ("failing".to_owned(), true, Action::BackedOff),
            // Its back-off ends within a fifth of the interval: due now.
            ("recovering".to_owned(), true, dry),
            // A sync cannot refresh these: never synced, whatever dry_run says.
            (
                "manual".to_owned(),
                true,
                Action::Blocked(BlockReason::ManualOauth),
            ),
            (
                "sign-in".to_owned(),
                true,
                Action::Blocked(BlockReason::SignInRequired),
            ),
            ("manual-fresh".to_owned(), false, Action::None),
            ("auth-stale".to_owned(), true, dry),
        ]
    };
    assert_eq!(got, want(Action::Synced));
    let dry = config(|c| {
        c.exclude = Globs::new(["internal-*"]);
        c.dry_run = true;
    });
    let got = summary(plan(fleet(), &memory, wall, now, &dry));
    assert_eq!(got, want(Action::WouldSync));
}

#[test]
fn a_short_page_is_proven_on_the_first_walk_then_hourly() {
    let now = Instant::now();
    assert!(proof_due(WalkMemory::default(), now), "first walk");
    let proven = |ago: Duration| WalkMemory {
        until_empty: false,
        proven_at: Some(now - ago),
    };
    assert!(!proof_due(proven(Duration::from_secs(60)), now));
    assert!(proof_due(proven(PROOF_EVERY), now));
    let until_empty = WalkMemory {
        until_empty: true,
        proven_at: None,
    };
    assert!(
        !proof_due(until_empty, now),
        "every walk already goes to an empty page"
    );
}

#[test]
fn only_manual_and_required_authentication_block_a_sync() {
    assert_eq!(
        blocked_reason(Some("manual")),
        Some(BlockReason::ManualOauth)
    );
    assert_eq!(
        blocked_reason(Some("required")),
        Some(BlockReason::SignInRequired)
    );
    for syncable in [
        None,
        Some("not_required"),
        Some("connected"),
        Some("stale"),
        Some("x"),
    ] {
        assert_eq!(blocked_reason(syncable), None, "{syncable:?}");
    }
}

#[test]
fn a_sync_took_effect_only_when_cloudflares_timestamp_advanced() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    assert!(advanced(None, Some(t)));
    assert!(advanced(Some(t), Some(t + Duration::from_millis(1))));
    assert!(!advanced(Some(t), Some(t)));
    assert!(!advanced(Some(t), Some(t - H)), "older: not an effect");
    assert!(!advanced(Some(t), None));
    assert!(!advanced(None, None));
}

#[test]
fn a_success_answer_is_confirmed_refuted_or_left_to_the_next_listing() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    assert_eq!(answered(Some(t), Some(t + H)), Outcome::Success);
    assert_eq!(answered(None, Some(t)), Outcome::Success);
    assert_eq!(answered(Some(t), Some(t)), Outcome::NoEffect);
    assert_eq!(answered(Some(t), None), Outcome::Pending);
    assert_eq!(answered(None, None), Outcome::Pending);
}

#[test]
fn stale_when_never_synced() {
    assert!(is_stale(None, Some("ready"), SystemTime::now(), 3 * H));
}

#[test]
fn stale_when_last_success_older_than_stale_after() {
    let now = SystemTime::now();
    assert!(is_stale(now.checked_sub(4 * H), Some("ready"), now, 3 * H));
    assert!(!is_stale(now.checked_sub(2 * H), Some("ready"), now, 3 * H));
}

#[test]
fn stale_when_cloudflare_says_stale_even_if_recent() {
    let now = SystemTime::now();
    assert!(is_stale(Some(now), Some("stale"), now, 3 * H));
}

#[test]
fn a_future_timestamp_is_fresh() {
    let now = SystemTime::now();
    assert!(!is_stale(now.checked_add(H), None, now, 3 * H));
}

fn status(s: u16) -> Result<SyncResult, ApiError> {
    Err(ApiError::Status {
        endpoint: Endpoint::Sync,
        status: s,
        errors: vec![],
    })
}

fn failed(retryable: Option<bool>) -> Result<SyncResult, ApiError> {
    Ok(SyncResult {
        error: Some("boom".into()),
        error_details: retryable.map(|r| ErrorDetails {
            retryable: Some(r),
            ..ErrorDetails::default()
        }),
        status: Some("error".into()),
        ..SyncResult::default()
    })
}

#[test]
fn every_row_of_the_spec_table() {
    assert_eq!(classify_sync(&Ok(SyncResult::default())), Class::Success);
    assert_eq!(classify_sync(&failed(Some(true))), Class::Retryable);
    let rl = Err(ApiError::RateLimited {
        endpoint: Endpoint::Sync,
        retry_after: Some(Duration::from_secs(3)),
        errors: vec![ApiMessage {
            code: Some(971),
            message: None,
        }],
    });
    assert_eq!(
        classify_sync(&rl),
        Class::RateLimited(Some(Duration::from_secs(3)))
    );
    assert_eq!(classify_sync(&status(502)), Class::Transient);
    let timeout = Err(ApiError::Timeout {
        endpoint: Endpoint::Sync,
        after: Duration::from_secs(1),
    });
    assert_eq!(classify_sync(&timeout), Class::Transient);
    let conn = Err(ApiError::Transport {
        endpoint: Endpoint::Sync,
        message: "refused".into(),
    });
    assert_eq!(classify_sync(&conn), Class::Transient);
    assert_eq!(classify_sync(&failed(Some(false))), Class::Permanent);
    assert_eq!(classify_sync(&failed(None)), Class::Permanent);
    assert_eq!(classify_sync(&status(401)), Class::Auth);
    assert_eq!(classify_sync(&status(403)), Class::Auth);
    assert_eq!(classify_sync(&status(404)), Class::Gone);
    assert_eq!(classify_sync(&status(400)), Class::Permanent);
    assert_eq!(classify_sync(&status(422)), Class::Permanent);
}

#[test]
fn a_404_on_the_list_is_not_a_gone_server() {
    let e = ApiError::Status {
        endpoint: Endpoint::List,
        status: 404,
        errors: vec![],
    };
    assert_eq!(classify_list_error(&e), Class::Permanent);
}

#[test]
fn retry_after_overrides_the_backoff() {
    let s = Duration::from_secs;
    assert_eq!(
        retry_wait(
            Class::RateLimited(Some(s(7))),
            Some(s(1)),
            s(0),
            s(60),
            s(300)
        ),
        Some(s(7))
    );
    assert_eq!(
        retry_wait(Class::RateLimited(None), Some(s(2)), s(0), s(60), s(300)),
        Some(s(2))
    );
}

#[test]
fn retries_stop_at_max_elapsed_and_for_final_classes() {
    let s = Duration::from_secs;
    assert_eq!(
        retry_wait(Class::Transient, Some(s(10)), s(295), s(60), s(300)),
        None
    );
    assert_eq!(
        retry_wait(Class::Transient, Some(s(120)), s(0), s(60), s(300)),
        Some(s(60))
    );
    assert_eq!(
        retry_wait(Class::Permanent, Some(s(1)), s(0), s(60), s(300)),
        None
    );
    assert_eq!(
        retry_wait(Class::Auth, Some(s(1)), s(0), s(60), s(300)),
        None
    );
    assert_eq!(
        retry_wait(Class::Transient, None, s(0), s(60), s(300)),
        None
    );
}

#[test]
fn failure_backoff_doubles_from_interval_to_the_cap() {
    let m = Duration::from_secs(60);
    let cap = Duration::from_secs(3600);
    assert_eq!(failure_backoff(m, 1, cap), m);
    assert_eq!(failure_backoff(m, 2, cap), 2 * m);
    assert_eq!(failure_backoff(m, 3, cap), 4 * m);
    assert_eq!(failure_backoff(m, 10, cap), cap);
    assert_eq!(failure_backoff(m, u32::MAX, cap), cap);
}

#[test]
fn backoff_ending_within_the_jitter_counts_as_expired() {
    let now = tokio::time::Instant::now();
    let i = Duration::from_secs(100);
    assert!(backoff_expired(now, now + Duration::from_secs(15), i));
    assert!(!backoff_expired(now, now + Duration::from_secs(50), i));
}

#[test]
fn next_cycle_delay_has_bounded_jitter_and_absorbs_overruns() {
    let i = Duration::from_secs(100);
    assert_eq!(
        next_cycle_delay(i, Duration::ZERO, 1.0),
        Duration::from_secs(110)
    );
    assert_eq!(
        next_cycle_delay(i, Duration::ZERO, -1.0),
        Duration::from_secs(90)
    );
    assert_eq!(
        next_cycle_delay(i, Duration::from_secs(30), 0.0),
        Duration::from_secs(70)
    );
    assert_eq!(
        next_cycle_delay(i, Duration::from_secs(500), 0.0),
        Duration::ZERO
    );
}
