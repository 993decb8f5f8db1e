//! The status line of a bulk command: a progress bar on stderr when stderr is a terminal.
//! The bar owns that line; every other stderr line of the command (retry notices, debug
//! lines) is printed through it, above the bar, which is then drawn again.

use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Erases the line the cursor is on and returns to its start.
const ERASE_LINE: &str = "\r\x1b[2K";

pub struct StatusLine {
    bar: Mutex<Bar>,
    terminal: bool,
}

#[derive(Default)]
struct Bar {
    label: &'static str,
    done: usize,
    total: usize,
    concurrency: usize,
    throttled: u64,
    drawn: bool,
}

impl Bar {
    fn text(&self) -> String {
        const WIDTH: usize = 30;
        let filled = WIDTH * self.done / self.total.max(1);
        let throttled = match self.throttled {
            0 => String::new(),
            count => format!(", {count} throttled"),
        };
        format!(
            "{} [{}{}] {}/{} ({} at a time{throttled})",
            self.label,
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            self.done,
            self.total,
            self.concurrency,
        )
    }
}

impl StatusLine {
    pub fn new() -> StatusLine {
        StatusLine {
            bar: Mutex::new(Bar::default()),
            terminal: io::stderr().is_terminal(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Bar> {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Shows a bar for `total` steps (none for 0).
    pub fn start(&self, label: &'static str, total: usize, concurrency: usize) {
        let mut bar = self.lock();
        *bar = Bar {
            label,
            total,
            concurrency,
            ..Bar::default()
        };
        self.draw(&mut bar);
    }

    /// One more step done; the scheduler's current figures.
    pub fn advance(&self, concurrency: usize, throttled: u64) {
        let mut bar = self.lock();
        bar.done += 1;
        self.update_figures(&mut bar, concurrency, throttled);
    }

    /// New figures from the scheduler.
    pub fn update(&self, concurrency: usize, throttled: u64) {
        let mut bar = self.lock();
        self.update_figures(&mut bar, concurrency, throttled);
    }

    fn update_figures(&self, bar: &mut Bar, concurrency: usize, throttled: u64) {
        bar.concurrency = concurrency;
        bar.throttled = throttled;
        self.draw(bar);
    }

    /// Prints `line` on stderr above the bar.
    pub fn print(&self, line: &str) {
        let mut bar = self.lock();
        let mut stderr = io::stderr().lock();
        if bar.drawn {
            let _ = write!(stderr, "{ERASE_LINE}");
            bar.drawn = false;
        }
        let _ = writeln!(stderr, "{line}");
        drop(stderr);
        self.draw(&mut bar);
    }

    /// Removes the bar; lines printed afterwards go straight to stderr.
    pub fn finish(&self) {
        let mut bar = self.lock();
        if bar.drawn {
            eprint!("{ERASE_LINE}");
        }
        *bar = Bar::default();
    }

    fn draw(&self, bar: &mut Bar) {
        if !self.terminal || bar.total == 0 {
            return;
        }
        let mut stderr = io::stderr().lock();
        let _ = write!(stderr, "{ERASE_LINE}{}", bar.text());
        let _ = stderr.flush();
        bar.drawn = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_progress_concurrency_and_throttled_answers() {
        let mut bar = Bar {
            label: "Importing",
            done: 250,
            total: 1000,
            concurrency: 16,
            ..Bar::default()
        };
        let dashes = "-".repeat(23);
        assert_eq!(
            bar.text(),
            format!("Importing [#######{dashes}] 250/1000 (16 at a time)")
        );
        bar.throttled = 3;
        assert!(
            bar.text().ends_with("(16 at a time, 3 throttled)"),
            "{}",
            bar.text()
        );
    }
}
