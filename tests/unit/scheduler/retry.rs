use super::*;

fn cfg() -> RetryConfig {
    RetryConfig {
        initial_interval: Duration::from_millis(10),
        multiplier: 2.0,
        max_interval: Duration::from_millis(40),
        max_elapsed: Duration::from_secs(600),
    }
}

#[tokio::test(start_paused = true)]
async fn retries_a_transient_answer_until_it_succeeds() {
    let mut answers = vec![Class::Transient, Class::Transient, Class::Success].into_iter();
    let mut seen = Vec::new();
    let end = retrying(
        &cfg(),
        &Shutdown::new(),
        || std::future::ready(answers.next().unwrap_or(Class::Success)),
        |c| *c,
        |_, c, _| {
            seen.push(c);
            true
        },
    )
    .await;
    assert!(
        matches!(
            end,
            Ended::Answered {
                class: Class::Success,
                attempts: 3,
                ..
            }
        ),
        "{end:?}"
    );
    assert_eq!(seen, [Class::Transient, Class::Transient]);
}

#[tokio::test(start_paused = true)]
async fn a_final_class_is_not_retried_and_a_stop_is_obeyed() {
    let end = retrying(
        &cfg(),
        &Shutdown::new(),
        || std::future::ready(Class::Permanent),
        |c| *c,
        |_, _, _| true,
    )
    .await;
    assert!(matches!(
        end,
        Ended::Answered {
            class: Class::Permanent,
            attempts: 1,
            ..
        }
    ));
    let end = retrying(
        &cfg(),
        &Shutdown::new(),
        || std::future::ready(Class::Retryable),
        |c| *c,
        |_, _, _| false,
    )
    .await;
    assert!(matches!(end, Ended::Stopped { attempts: 1 }));
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_wait_for_a_retry_after() {
    let sd = Shutdown::new();
    let trigger = sd.clone();
    let end = retrying(
        &cfg(),
        &sd,
        || std::future::ready(Class::RateLimited(Some(Duration::from_secs(120)))),
        |c| *c,
        |_, _, wait| {
            assert_eq!(wait, Duration::from_secs(120), "retry-after is obeyed");
            trigger.trigger();
            true
        },
    )
    .await;
    assert!(matches!(end, Ended::Stopped { attempts: 1 }));
}
