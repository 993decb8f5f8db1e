//! Reading the token at a terminal without showing it.
//!
//! The terminal's echo goes off when the token becomes the next answer, before its prompt is
//! printed, so that characters typed ahead (while the previous step still runs) are not shown
//! either. Echo comes back when the [`HiddenInput`] is dropped, and also when the process is
//! ended by Ctrl-C, `kill` or a closed terminal while echo is off: the signal handler restores
//! the terminal, then lets the signal end the process as it would have.

use std::io;

/// The terminal with echo off, for as long as this lives.
pub struct HiddenInput {
    #[cfg(unix)]
    _echo_off: unix::EchoOff,
}

impl HiddenInput {
    /// Turns the terminal's echo off now.
    pub fn start() -> io::Result<HiddenInput> {
        Ok(HiddenInput {
            #[cfg(unix)]
            _echo_off: unix::EchoOff::start()?,
        })
    }

    /// Prints `prompt` on stderr and reads one line from the terminal without echo.
    pub fn read_line(&mut self, prompt: &str) -> io::Result<String> {
        eprint!("{prompt}");
        let typed = rpassword::read_password();
        if typed
            .as_ref()
            .is_err_and(|error| error.kind() == io::ErrorKind::Interrupted)
        {
            // The reader saw Ctrl-C itself (it turns the terminal's signal keys off) and raised
            // SIGINT; should that signal not have ended the process, end it here the same way.
            #[cfg(unix)]
            self._echo_off.end_by_interrupt();
        }
        typed
    }
}

#[cfg(unix)]
mod unix {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::os::fd::AsRawFd;
    use std::ptr;
    use std::sync::atomic::{AtomicPtr, Ordering};

    use crate::signals::Replaced;

    /// Signals that end the process by default and that a person or a closing terminal sends.
    const ENDING_SIGNALS: [libc::c_int; 4] =
        [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    /// The terminal settings to put back, where the signal handler can reach them.
    struct Saved {
        fd: libc::c_int,
        settings: libc::termios,
    }

    static SAVED: AtomicPtr<Saved> = AtomicPtr::new(ptr::null_mut());

    pub struct EchoOff {
        // Keeps the descriptor in `SAVED` open.
        _terminal: File,
        saved: *mut Saved,
        /// Taken in `drop`, after the terminal settings are back.
        handlers: Option<Replaced>,
    }

    impl EchoOff {
        pub fn start() -> io::Result<EchoOff> {
            let terminal = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
            let fd = terminal.as_raw_fd();
            let settings = terminal_settings(fd)?;
            let saved = Box::into_raw(Box::new(Saved { fd, settings }));
            SAVED.store(saved, Ordering::SeqCst);
            let echo_off = EchoOff {
                _terminal: terminal,
                saved,
                // Signals that were ignored stay ignored (an interrupted read is then reported
                // as an error instead).
                handlers: Some(Replaced::catch(&ENDING_SIGNALS, restore_and_resend)),
            };
            let mut quiet = settings;
            quiet.c_lflag &= !libc::ECHO;
            set_terminal_settings(fd, &quiet)?;
            Ok(echo_off)
        }
    }

    impl EchoOff {
        /// Puts the terminal back and ends the process by SIGINT with its default disposition,
        /// unless SIGINT was ignored when the prompt started (then this returns).
        pub fn end_by_interrupt(&self) {
            let interrupt_ignored = self
                .handlers
                .as_ref()
                .is_some_and(|handlers| handlers.was_ignored(libc::SIGINT));
            if interrupt_ignored {
                return;
            }
            // SAFETY: `saved` came from `Box::into_raw` and is freed only in `drop`.
            let saved = unsafe { &*self.saved };
            let _ = set_terminal_settings(saved.fd, &saved.settings);
            // SAFETY: plain calls on this thread's signal state; a blocked SIGINT is let through.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                let mut interrupt: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut interrupt);
                libc::sigaddset(&mut interrupt, libc::SIGINT);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &interrupt, ptr::null_mut());
                libc::raise(libc::SIGINT);
            }
        }
    }

    impl Drop for EchoOff {
        fn drop(&mut self) {
            // SAFETY: `saved` came from `Box::into_raw` and is freed only below.
            let saved = unsafe { &*self.saved };
            let _ = set_terminal_settings(saved.fd, &saved.settings);
            // Puts back the dispositions that were in place before `start`.
            drop(self.handlers.take());
            SAVED.store(ptr::null_mut(), Ordering::SeqCst);
            // SAFETY: no handler can reach it any more; this is the only owner.
            drop(unsafe { Box::from_raw(self.saved) });
        }
    }

    /// Puts the terminal settings back, then ends the process by the same signal, as the
    /// default disposition would have. Async-signal-safe: only tcsetattr, signal and raise.
    extern "C" fn restore_and_resend(signal: libc::c_int) {
        let saved = SAVED.load(Ordering::SeqCst);
        if !saved.is_null() {
            // SAFETY: `saved` stays valid until `EchoOff::drop` clears `SAVED` (single-threaded).
            unsafe { libc::tcsetattr((*saved).fd, libc::TCSANOW, &(*saved).settings) };
        }
        // SAFETY: async-signal-safe; the signal is blocked while this handler runs, so it is
        // delivered with the default disposition as soon as the handler returns.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }

    fn terminal_settings(fd: libc::c_int) -> io::Result<libc::termios> {
        let mut settings = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the struct when it returns 0.
        if unsafe { libc::tcgetattr(fd, settings.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: initialised by the successful call above.
        Ok(unsafe { settings.assume_init() })
    }

    fn set_terminal_settings(fd: libc::c_int, settings: &libc::termios) -> io::Result<()> {
        // SAFETY: `settings` is a valid termios; TCSANOW keeps what was typed ahead.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, settings) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
