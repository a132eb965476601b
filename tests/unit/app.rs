use super::*;

fn quiet_panic(what: &'static str) -> ! {
    std::panic::panic_any(what)
}

#[tokio::test]
async fn a_panicking_http_server_is_an_error_and_stops_the_scheduler() {
    let sd = Shutdown::new();
    let http = tokio::spawn(async { quiet_panic("boom in http") });
    let s = sd.clone();
    let sched = tokio::spawn(async move {
        s.wait().await;
        Ok(())
    });
    let r = supervise(http, sched, sd.clone()).await;
    assert!(
        matches!(&r, Err(AppError::Panicked { task: "HTTP server", message }) if message == "boom in http"),
        "{r:?}"
    );
    assert!(sd.is_triggered(), "the other task was told to stop");
}

#[tokio::test]
async fn a_panicking_scheduler_is_an_error_and_stops_the_http_server() {
    let sd = Shutdown::new();
    let s = sd.clone();
    let http = tokio::spawn(async move {
        s.wait().await;
        Ok(())
    });
    let sched = tokio::spawn(async { quiet_panic("boom in a cycle") });
    let r = supervise(http, sched, sd.clone()).await;
    assert!(
        matches!(
            &r,
            Err(AppError::Panicked {
                task: "scheduler",
                ..
            })
        ),
        "{r:?}"
    );
    assert!(sd.is_triggered());
}

#[tokio::test]
async fn an_account_loop_that_panicked_is_an_error_too() {
    let sd = Shutdown::new();
    let s = sd.clone();
    let http = tokio::spawn(async move {
        s.wait().await;
        Ok(())
    });
    let sched = tokio::spawn(async {
        Err(RunError::Panicked {
            account: "acc".into(),
            message: "boom".into(),
        })
    });
    let r = supervise(http, sched, sd).await;
    assert!(matches!(r, Err(AppError::Scheduler(_))), "{r:?}");
}

#[tokio::test]
async fn a_stop_signal_ends_both_cleanly() {
    let sd = Shutdown::new();
    let (a, b) = (sd.clone(), sd.clone());
    let http = tokio::spawn(async move {
        a.wait().await;
        Ok(())
    });
    let sched = tokio::spawn(async move {
        b.wait().await;
        Ok(())
    });
    sd.trigger();
    assert!(supervise(http, sched, sd).await.is_ok());
}
