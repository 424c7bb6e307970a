//! Reading request bodies. Sizes are counted while the bytes arrive; a body
//! must keep a minimum pace, so a client trickling bytes cannot hold a
//! connection open; large bodies (batches, uploads) are parsed as they stream
//! in, a few at a time, so a hostile body costs what it parses, not its size.

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead};
use std::marker::PhantomData;
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::{Body, Bytes};
use futures_util::{Stream, TryStreamExt};
use http_body_util::BodyExt;
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::ApiError;

/// Bytes a second a body must average after its grace period
/// ([`crate::Limits::body_grace`]).
const MIN_PACE: u64 = 64 * 1024;
/// Large bodies parsed at once; more wait. Each costs up to what its
/// sessions hold once parsed.
const LARGE_BODIES_AT_ONCE: usize = 2;

static LARGE_BODIES: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(LARGE_BODIES_AT_ONCE));

/// Why a body could not be read; carried inside `io::Error` through readers.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the request body did not arrive in time ({0} bytes received)")]
    TooSlow(u64),
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(usize),
}

/// The body's bytes as they arrive, failing once past `limit` or behind pace.
fn paced(
    body: Body,
    limit: usize,
    grace: Duration,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let started = Instant::now();
    futures_util::stream::try_unfold((body, 0u64), move |(mut body, received)| async move {
        let deadline = started + grace + Duration::from_secs(received / MIN_PACE);
        loop {
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        BodyError::TooSlow(received),
                    ))
                }
                Ok(None) => return Ok(None),
                Ok(Some(frame)) => frame.map_err(io::Error::other)?,
            };
            // Trailers carry no data.
            let Ok(data) = frame.into_data() else { continue };
            let received = received + data.len() as u64;
            if received > limit as u64 {
                return Err(io::Error::other(BodyError::TooLarge(limit)));
            }
            return Ok(Some((data, (body, received))));
        }
    })
}

/// The whole body, at most `limit` bytes.
pub async fn collect(body: Body, limit: usize, grace: Duration) -> Result<Bytes, ApiError> {
    let chunks: Vec<Bytes> = paced(body, limit, grace).try_collect().await.map_err(io_error)?;
    if chunks.len() == 1 {
        return Ok(chunks.into_iter().next().unwrap_or_default());
    }
    Ok(chunks.concat().into())
}

/// Runs `parse` on a blocking thread over the body as it streams in.
pub async fn parse_streaming<T: Send + 'static>(
    body: Body,
    limit: usize,
    grace: Duration,
    parse: impl FnOnce(&mut dyn BufRead) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = LARGE_BODIES
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(paced(
        body, limit, grace,
    ))));
    tokio::task::spawn_blocking(move || {
        let mut reader = io::BufReader::with_capacity(64 * 1024, reader);
        parse(&mut reader)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("body parser panicked: {e}")))?
}

/// The API error for a failed read: too large, too slow, or the client went away.
pub fn io_error(error: io::Error) -> ApiError {
    match error.get_ref().and_then(|e| e.downcast_ref::<BodyError>()) {
        Some(e @ BodyError::TooLarge(_)) => ApiError::PayloadTooLarge(e.to_string()),
        Some(e @ BodyError::TooSlow(_)) => ApiError::Timeout(e.to_string()),
        None => ApiError::MalformedJson(format!("could not read the request body: {error}")),
    }
}

// ---- counts checked while parsing

thread_local! {
    /// Limits of the request parsed on this thread: (sessions, meter values).
    static LIMITS: Cell<(usize, usize)> = const { Cell::new((usize::MAX, usize::MAX)) };
    /// Set when a list went past its limit, to answer 413 instead of 422.
    static EXCEEDED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Parses with `sessions` and `meter_values` lists bounded while they are
/// read: a body with a million tiny sessions stops at the limit.
pub fn with_limits<T>(
    max_sessions: usize,
    max_meter_values: usize,
    parse: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    LIMITS.with(|l| l.set((max_sessions, max_meter_values)));
    EXCEEDED.with(|e| e.borrow_mut().take());
    let result = parse();
    LIMITS.with(|l| l.set((usize::MAX, usize::MAX)));
    match EXCEEDED.with(|e| e.borrow_mut().take()) {
        Some(message) if result.is_err() => Err(ApiError::PayloadTooLarge(message)),
        _ => result,
    }
}

/// `deserialize_with` for an optional list of sessions.
pub fn sessions<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Vec<T>>, D::Error> {
    Ok(Option::<Bounded<T, true>>::deserialize(d)?.map(|b| b.0))
}

/// `deserialize_with` for an optional list of meter values.
pub fn meter_values<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Ok(Option::<Bounded<T, false>>::deserialize(d)?.map(|b| b.0))
}

/// A list of sessions (`SESSIONS`) or of meter values, bounded by [`LIMITS`].
struct Bounded<T, const SESSIONS: bool>(Vec<T>);

impl<'de, T: Deserialize<'de>, const SESSIONS: bool> Deserialize<'de> for Bounded<T, SESSIONS> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ListVisitor::<T, SESSIONS>(PhantomData))
    }
}

struct ListVisitor<T, const SESSIONS: bool>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const SESSIONS: bool> Visitor<'de> for ListVisitor<T, SESSIONS> {
    type Value = Bounded<T, SESSIONS>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (max_sessions, max_values) = LIMITS.with(Cell::get);
        let (limit, noun, per) = if SESSIONS {
            (max_sessions, "sessions", "batch")
        } else {
            (max_values, "readings", "session")
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            if items.len() == limit {
                let message = format!("more than {limit} {noun}; the limit is {limit} per {per}");
                EXCEEDED.with(|e| *e.borrow_mut() = Some(message.clone()));
                return Err(serde::de::Error::custom(message));
            }
            items.push(item);
        }
        Ok(Bounded(items))
    }
}
