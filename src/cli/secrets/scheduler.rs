//! How many requests of a bulk command (import, export, sync) are in flight: found by the
//! scheduler itself, as TCP finds its window.
//!
//! - It starts at [`INITIAL`] and doubles every [`SLOW_START_STEP`] of good answers while the
//!   window is in use, up to [`CEILING`] (slow start).
//! - Every throttled answer (429, 503, a rate-limit code) halves it, down to 1, and pauses
//!   every request, not just the throttled one, for the wait the server asked for
//!   (`Retry-After`) or the client's backoff.
//! - After the first throttled answer it grows by one per [`INCREASE_STEP`] of good answers
//!   (additive increase). The steps are times, not round trips, because a rate limit is a
//!   token bucket: it answers 429 only once its burst (about a second of requests) is spent,
//!   so a window grown per round trip would overshoot by many requests before the first 429.
//!   Half a second keeps a window of one or two near the limit of a nearby workspace (where
//!   one request at a time is just under it and two are over), with a few 429s per second of
//!   burst.
//! - `--concurrency N` pins the window to N; the pauses still apply.
//!
//! The clock is tokio's, so the tests run against a simulated server on a paused clock.

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The window before anything is known: the fixed concurrency of earlier versions.
pub const INITIAL: usize = 8;

/// The largest window: enough for a workspace 50 ms away, and gentle on a shared one.
pub const CEILING: usize = 64;

/// Slow start doubles the window at most this often.
const SLOW_START_STEP: Duration = Duration::from_millis(100);

/// After a throttled answer, the window grows by one at most this often.
const INCREASE_STEP: Duration = Duration::from_millis(500);

/// What a change of the window says, for `--debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Grew {
        from: usize,
        to: usize,
    },
    Throttled {
        from: usize,
        to: usize,
        pause: Duration,
        throttled: u64,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Grew { from, to } => write!(f, "concurrency {from} -> {to}"),
            Change::Throttled {
                from,
                to,
                pause,
                throttled,
            } => write!(
                f,
                "concurrency {from} -> {to} after a throttled answer ({throttled} so far); every \
                 request waits {:.1}s",
                pause.as_secs_f64()
            ),
        }
    }
}

/// The window and what it is made of; only [`Scheduler`] changes it.
#[derive(Debug)]
struct Window {
    limit: usize,
    pinned: bool,
    slow_start: bool,
    in_flight: usize,
    /// When the window last changed (for a pause: when the pause ends).
    last_change: Instant,
    paused_until: Option<Instant>,
    throttled: u64,
}

impl Window {
    /// One request finished; grows the window when a step has passed and it was all in use.
    fn finished(&mut self, now: Instant) -> Option<Change> {
        let was_full = self.in_flight >= self.limit;
        self.in_flight -= 1;
        let step = if self.slow_start {
            SLOW_START_STEP
        } else {
            INCREASE_STEP
        };
        if self.pinned || !was_full || now < self.last_change + step || self.limit >= CEILING {
            return None;
        }
        let from = self.limit;
        self.limit = if self.slow_start { from * 2 } else { from + 1 }.min(CEILING);
        self.last_change = now;
        Some(Change::Grew {
            from,
            to: self.limit,
        })
    }

    /// A throttled answer that asks for `pause`: halves the window and pauses every request.
    fn throttled(&mut self, now: Instant, pause: Duration) -> Change {
        self.throttled += 1;
        let from = self.limit;
        if !self.pinned {
            self.limit = (from / 2).max(1);
            self.slow_start = false;
        }
        let until = now + pause;
        let until = self.paused_until.map_or(until, |paused| paused.max(until));
        self.paused_until = Some(until);
        self.last_change = until;
        Change::Throttled {
            from,
            to: self.limit,
            pause: until - now,
            throttled: self.throttled,
        }
    }
}

/// Admits the requests of one bulk command; shared by the command and the client's observer.
pub struct Scheduler {
    window: Mutex<Window>,
    /// Woken when a slot frees up or the window grows.
    changed: Notify,
}

/// One admitted request; dropping it frees its slot.
pub struct Permit<'a> {
    scheduler: &'a Scheduler,
    on_change: &'a (dyn Fn(&Change) + Sync),
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let change = self.scheduler.lock().finished(Instant::now());
        self.scheduler.changed.notify_waiters();
        if let Some(change) = change {
            (self.on_change)(&change);
        }
    }
}

impl Scheduler {
    /// Adaptive from [`INITIAL`], or pinned to `fixed` requests at a time.
    pub fn new(fixed: Option<usize>) -> Scheduler {
        Scheduler {
            window: Mutex::new(Window {
                limit: fixed.unwrap_or(INITIAL).max(1),
                pinned: fixed.is_some(),
                slow_start: true,
                in_flight: 0,
                last_change: Instant::now(),
                paused_until: None,
                throttled: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many requests may be in flight now.
    pub fn concurrency(&self) -> usize {
        self.lock().limit
    }

    /// How many throttled answers arrived so far.
    pub fn throttled_count(&self) -> u64 {
        self.lock().throttled
    }

    /// Reports a throttled answer whose retry waits `pause`; every request waits as long.
    pub fn throttled(&self, pause: Duration) -> Change {
        self.lock().throttled(Instant::now(), pause)
    }

    /// Waits until no pause is on and a slot is free, then takes it.
    async fn admit<'a>(&'a self, on_change: &'a (dyn Fn(&Change) + Sync)) -> Permit<'a> {
        loop {
            let mut notified = pin!(self.changed.notified());
            // Registered before the window is looked at, so no wake-up is missed.
            notified.as_mut().enable();
            let paused_until = {
                let mut window = self.lock();
                match window.paused_until {
                    Some(until) if until > Instant::now() => Some(until),
                    _ if window.in_flight < window.limit => {
                        window.in_flight += 1;
                        return Permit {
                            scheduler: self,
                            on_change,
                        };
                    }
                    _ => None,
                }
            };
            match paused_until {
                Some(until) => tokio::time::sleep_until(until).await,
                None => notified.await,
            }
        }
    }

    /// Runs `operation` on every item, as many at a time as the window allows, calls
    /// `on_result` as each finishes and `on_change` when the window changes, and returns every
    /// result in the items' order.
    pub async fn run<T, R, Fut>(
        &self,
        items: Vec<T>,
        operation: impl Fn(T) -> Fut,
        mut on_result: impl FnMut(&R),
        on_change: &(dyn Fn(&Change) + Sync),
    ) -> Vec<R>
    where
        Fut: Future<Output = R>,
    {
        let operation = &operation;
        let mut results: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate())
            .map(|(index, item)| async move {
                let _permit = self.admit(on_change).await;
                (index, operation(item).await)
            })
            .buffer_unordered(CEILING)
            .inspect(|(_, result)| on_result(result))
            .collect()
            .await;
        results.sort_unstable_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A workspace `latency` away with a token bucket of `rate` per second and `burst`, whose
    /// throttled answers say `Retry-After: 1` (whole seconds, at least 1, as the service's).
    struct SimulatedServer {
        latency: Duration,
        rate: f64,
        burst: f64,
        bucket: RefCell<(f64, Instant)>,
        answered: RefCell<(u64, u64)>,
    }

    impl SimulatedServer {
        fn new(latency_ms: u64, rate: f64, burst: f64) -> SimulatedServer {
            SimulatedServer {
                latency: Duration::from_millis(latency_ms),
                rate,
                burst,
                bucket: RefCell::new((burst, Instant::now())),
                answered: RefCell::new((0, 0)),
            }
        }

        fn take_token(&self) -> bool {
            let mut bucket = self.bucket.borrow_mut();
            let now = Instant::now();
            let tokens = (bucket.0 + (now - bucket.1).as_secs_f64() * self.rate).min(self.burst);
            let granted = tokens >= 1.0;
            *bucket = (if granted { tokens - 1.0 } else { tokens }, now);
            granted
        }

        /// One request as the API client makes it: retried after every throttled answer, which
        /// is reported to the scheduler first. Returns when it succeeded.
        async fn request(&self, scheduler: &Scheduler) {
            loop {
                let granted = self.take_token();
                tokio::time::sleep(self.latency).await;
                if granted {
                    self.answered.borrow_mut().0 += 1;
                    return;
                }
                self.answered.borrow_mut().1 += 1;
                let retry_after = Duration::from_secs(1);
                scheduler.throttled(retry_after);
                tokio::time::sleep(retry_after).await;
            }
        }

        fn successes_and_throttled(&self) -> (u64, u64) {
            *self.answered.borrow()
        }
    }

    /// Runs 1,000 requests against `server`; returns the time taken and the largest window.
    async fn run_thousand(server: &SimulatedServer, fixed: Option<usize>) -> (Duration, usize) {
        let scheduler = &Scheduler::new(fixed);
        let largest = RefCell::new(scheduler.concurrency());
        let started = Instant::now();
        let results = scheduler
            .run(
                (0..1000).collect(),
                |item: u32| async move {
                    server.request(scheduler).await;
                    item
                },
                |_| {
                    let mut largest = largest.borrow_mut();
                    *largest = (*largest).max(scheduler.concurrency());
                },
                &|_| {},
            )
            .await;
        assert_eq!(
            results,
            (0..1000).collect::<Vec<_>>(),
            "every result, in order"
        );
        (started.elapsed(), largest.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn far_away_without_a_limit_it_grows_to_the_ceiling_and_is_fast() {
        let server = SimulatedServer::new(50, f64::INFINITY, f64::INFINITY);
        let (elapsed, largest) = run_thousand(&server, None).await;
        assert_eq!(largest, CEILING);
        assert!(elapsed <= Duration::from_millis(1500), "{elapsed:?}");
        assert_eq!(server.successes_and_throttled(), (1000, 0));

        let fixed = SimulatedServer::new(50, f64::INFINITY, f64::INFINITY);
        let (fixed_elapsed, largest) = run_thousand(&fixed, Some(8)).await;
        assert_eq!(largest, 8);
        assert!(
            fixed_elapsed >= Duration::from_millis(6250),
            "{fixed_elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn under_a_rate_limit_it_reaches_ninety_percent_with_few_throttled_answers() {
        let server = SimulatedServer::new(5, 200.0, 200.0);
        let (elapsed, _) = run_thousand(&server, None).await;
        let (successes, throttled) = server.successes_and_throttled();
        assert_eq!(successes, 1000);
        assert!(elapsed <= Duration::from_millis(5600), "{elapsed:?}");
        assert!(
            throttled * 20 < successes + throttled,
            "{throttled} throttled"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pinned_window_never_changes_but_still_pauses() {
        let scheduler = Scheduler::new(Some(3));
        let change = scheduler.throttled(Duration::from_secs(2));
        assert_eq!(
            change,
            Change::Throttled {
                from: 3,
                to: 3,
                pause: Duration::from_secs(2),
                throttled: 1
            }
        );
        let started = Instant::now();
        let starts = RefCell::new(Vec::new());
        scheduler
            .run(
                vec![(); 6],
                |()| {
                    starts.borrow_mut().push(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(10))
                },
                |_| {},
                &|_| {},
            )
            .await;
        assert_eq!(scheduler.concurrency(), 3);
        let starts = starts.into_inner();
        assert!(
            starts.iter().all(|&at| at >= Duration::from_secs(2)),
            "{starts:?}"
        );
        let in_first_round = starts.iter().filter(|&&at| at == starts[0]).count();
        assert_eq!(in_first_round, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_answer_halves_the_window_and_pauses_every_request() {
        let scheduler = Scheduler::new(None);
        let started = Instant::now();
        let starts = RefCell::new(Vec::new());
        let changes = Mutex::new(Vec::new());
        scheduler
            .run(
                (0..40).collect(),
                |item: u32| {
                    starts.borrow_mut().push(started.elapsed());
                    let scheduler = &scheduler;
                    async move {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        if item == 3 {
                            scheduler.throttled(Duration::from_secs(1));
                        }
                    }
                },
                |_| {},
                &|change| changes.lock().unwrap().push(change.clone()),
            )
            .await;
        // Items 0-7 start at once; 3's throttled answer at 10 ms halves 8 to 4 and pauses the
        // rest, which start only after the pause, at most 4 at a time.
        let starts = starts.into_inner();
        assert!(starts[..8].iter().all(|&at| at == Duration::ZERO));
        assert!(
            starts[8..]
                .iter()
                .all(|&at| at >= Duration::from_millis(1010))
        );
        assert_eq!(starts[8..].iter().filter(|&&at| at == starts[8]).count(), 4);
        assert_eq!(scheduler.throttled_count(), 1);
        assert_eq!(
            scheduler.concurrency(),
            4,
            "no step of additive increase yet"
        );
        assert_eq!(
            changes.into_inner().unwrap(),
            vec![],
            "the window did not grow"
        );
    }

    #[test]
    fn the_window_doubles_in_slow_start_then_grows_by_one_and_never_passes_the_ceiling() {
        let start = Instant::now();
        let mut window = Window {
            limit: 8,
            pinned: false,
            slow_start: true,
            in_flight: 8,
            last_change: start,
            paused_until: None,
            throttled: 0,
        };
        // Within a step, or with the window not all in use, nothing grows.
        assert_eq!(window.finished(start + Duration::from_millis(50)), None);
        assert_eq!(window.finished(start + SLOW_START_STEP), None);
        window.in_flight = 8;
        let step = start + SLOW_START_STEP;
        assert_eq!(
            window.finished(step),
            Some(Change::Grew { from: 8, to: 16 })
        );
        for (from, to) in [(16, 32), (32, 64)] {
            window.in_flight = window.limit;
            let at = window.last_change + SLOW_START_STEP;
            assert_eq!(window.finished(at), Some(Change::Grew { from, to }));
        }
        window.in_flight = CEILING;
        assert_eq!(window.finished(window.last_change + SLOW_START_STEP), None);

        let now = window.last_change;
        let change = window.throttled(now, Duration::from_secs(1));
        assert!(matches!(
            change,
            Change::Throttled {
                from: 64,
                to: 32,
                ..
            }
        ));
        window.in_flight = 32;
        // The next step counts from the end of the pause.
        assert_eq!(window.finished(now + Duration::from_secs(1)), None);
        window.in_flight = 32;
        assert_eq!(
            window.finished(now + Duration::from_secs(1) + INCREASE_STEP),
            Some(Change::Grew { from: 32, to: 33 })
        );
        for _ in 0..10 {
            window.throttled(now, Duration::ZERO);
        }
        assert_eq!((window.limit, window.throttled), (1, 11));
    }
}
