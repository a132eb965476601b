//! The accept loop: HTTP/1.1 with hyper, bounded so that no client can make the daemon fall
//! over. At most [`MAX_CONNECTIONS`] connections are served at once (one more is answered
//! 503 and closed); a request's headers must arrive within [`HEADER_TIMEOUT`]; a client that
//! stops reading for [`WRITE_TIMEOUT`] is disconnected, which frees what its response held.
//! At shutdown no new connection is accepted and the open ones finish their request: hyper's
//! graceful watcher tells each served connection to close after its answer, and a
//! `tokio-util` task tracker waits for every connection task, handshakes and refusals included.
//!
//! With TLS, each connection is handed the acceptor of the web configuration current at
//! its arrival (so a rotated certificate serves the next connection); the handshake shares
//! the header time limit, and a connection over the limit is closed rather than answered.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::shutdown::Shutdown;
use crate::web::Web;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Time a client has to send a request's headers (also bounds an idle keep-alive).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a client may leave a response unread before it is disconnected.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a connection buffers, reading a request's head or writing an answer the client has
/// not read yet (hyper's default is ~400 KiB): a plain scrape inflates its body a window at a
/// time as the socket drains, and hyper asks for the next window only when what it holds is
/// under this, so a plain scraper holds one window ahead of its socket, not a body. A
/// request head larger than this is answered 431.
const MAX_BUFFER: usize = super::scrape::WINDOW;

/// The bounds of the server (the daemon uses the defaults; tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; one more is answered 503.
    pub max_connections: usize,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time a response may stay unread.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 30\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; retry.\r\n";

/// Serves `router` on `listener` within `limits` until `shutdown`, then lets open
/// connections finish.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    web: Option<Arc<Web>>,
    shutdown: Shutdown,
    limits: Limits,
) -> io::Result<()> {
    let tls = web.as_ref().is_some_and(|w| w.tls());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let tasks = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(v) => v,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "too many connections; refusing");
            if !tls {
                tasks.spawn(refuse(stream));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = WriteTimeout::new(stream, limits.write_timeout);
        let acceptor = web.as_ref().and_then(|w| w.current().tls.clone());
        let (router, watcher, web) = (router.clone(), graceful.watcher(), web.clone());
        tasks.spawn(async move {
            let served = match acceptor {
                None => connection(io, router, peer, watcher, limits).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(io)).await {
                        Ok(Ok(tls)) => connection(tls, router, peer, watcher, limits).await,
                        Ok(Err(e)) => {
                            refused(&web, peer, Some(&e));
                            Err(format!("TLS handshake failed: {e}"))
                        }
                        Err(_) => {
                            refused(&web, peer, None);
                            Err("TLS handshake timed out".to_owned())
                        }
                    }
                }
            };
            if let Err(e) = served {
                debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tasks.close();
    graceful.shutdown().await;
    tasks.wait().await;
    Ok(())
}

/// Counts and says a refused handshake (`None`: timed out).
fn refused(web: &Option<Arc<Web>>, peer: SocketAddr, e: Option<&io::Error>) {
    if let Some(w) = web {
        w.handshake_refused(peer, e);
    }
}

/// Serves HTTP/1.1 on one connection until it closes or the server shuts down.
async fn connection<S>(
    io: S,
    router: axum::Router,
    peer: SocketAddr,
    watcher: Watcher,
    limits: Limits,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(WithPeer { router, peer });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUFFER)
        .serve_connection(TokioIo::new(io), service);
    watcher.watch(conn).await.map_err(|e| e.to_string())
}

/// The router, with the client's address put in each request (for the per-address limit
/// of failed logins), as axum's `ConnectInfo`.
#[derive(Clone)]
struct WithPeer {
    router: axum::Router,
    peer: SocketAddr,
}

impl<B> tower_service::Service<hyper::Request<B>> for WithPeer
where
    axum::Router: tower_service::Service<hyper::Request<B>>,
{
    type Response = <axum::Router as tower_service::Service<hyper::Request<B>>>::Response;
    type Error = <axum::Router as tower_service::Service<hyper::Request<B>>>::Error;
    type Future = <axum::Router as tower_service::Service<hyper::Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<hyper::Request<B>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut req: hyper::Request<B>) -> Self::Future {
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        self.router.call(req)
    }
}

/// Answers 503 to a connection over the limit: reads its request's head (briefly, and at
/// most a few KiB, so that HTTP clients see an answer to what they sent), then closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(REFUSED).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A stream whose writes fail once the peer has not taken a byte for `timeout`.
struct WriteTimeout {
    stream: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteTimeout {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            stalled: None,
        }
    }

    fn watch<T>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match p {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for WriteTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, p)
    }

    /// Vectored writes let hyper send a shared rendering straight from its buffer, without
    /// copying it into a buffer of each connection.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
