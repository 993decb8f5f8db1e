//! What the client tells its user while it works: retry notices and `--debug` lines.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

/// Something for the user to see on stderr; `Display` gives the line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Retry {
        method: String,
        path: String,
        delay: Duration,
        /// The number of the attempt about to be made (2 for the first retry).
        attempt: u32,
        reason: String,
        /// The server asked to slow down (429, 503 or a rate-limit code); `delay` honours its
        /// `Retry-After` when it gave one.
        throttled: bool,
    },
    Debug(String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Retry {
                method,
                path,
                delay,
                attempt,
                reason,
                ..
            } => write!(
                f,
                "Retrying {method} {path} in {:.1}s (attempt {attempt}): {reason}",
                delay.as_secs_f64()
            ),
            Event::Debug(line) => f.write_str(line),
        }
    }
}

/// Where events go: the observer, debug lines only when they were asked for.
#[derive(Clone)]
pub(crate) struct Events {
    observer: Option<Observer>,
    debug: bool,
}

impl Events {
    pub fn new(observer: Option<Observer>, debug: bool) -> Self {
        Events { observer, debug }
    }

    pub fn emit(&self, event: impl FnOnce() -> Event) {
        if let Some(observer) = &self.observer {
            observer(&event());
        }
    }

    /// A `--debug` line; `line` must already be redacted.
    pub fn debug(&self, line: impl FnOnce() -> String) {
        if self.debug {
            self.emit(|| Event::Debug(line()));
        }
    }
}
