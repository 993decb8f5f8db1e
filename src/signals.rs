//! Signal dispositions replaced for a while and put back afterwards, for the two places that
//! must not let a signal end the process on the spot: the editor (Ctrl-C goes to the editor
//! only; the private temporary file is still removed) and the hidden token prompt (the terminal
//! gets its echo back first).

/// A signal handler; it may only call async-signal-safe functions.
pub type Handler = extern "C" fn(libc::c_int);

/// Dispositions replaced until dropped; dropping puts back what was there before.
pub struct Replaced {
    previous: Vec<(libc::c_int, libc::sighandler_t)>,
}

impl Replaced {
    /// Ignores `signals`.
    pub fn ignore(signals: &[libc::c_int]) -> Replaced {
        Replaced {
            // SAFETY: SIG_IGN installs no handler code; `Drop` puts the disposition back.
            previous: signals
                .iter()
                .map(|&signal| (signal, unsafe { libc::signal(signal, libc::SIG_IGN) }))
                .collect(),
        }
    }

    /// Catches `signals` with `handler`, except those that were ignored (as under `nohup`):
    /// they stay ignored.
    pub fn catch(signals: &[libc::c_int], handler: Handler) -> Replaced {
        let address = handler as *const () as libc::sighandler_t;
        let previous = signals
            .iter()
            .map(|&signal| {
                // SAFETY: `handler` is async-signal-safe (this type's contract).
                let before = unsafe { libc::signal(signal, address) };
                if before == libc::SIG_IGN {
                    // SAFETY: puts back "ignored".
                    unsafe { libc::signal(signal, libc::SIG_IGN) };
                }
                (signal, before)
            })
            .collect();
        Replaced { previous }
    }

    /// Whether `signal` was ignored before (a child started meanwhile inherits "ignored"
    /// across exec, so it must get back the default only for those that were not).
    pub fn was_ignored(&self, signal: libc::c_int) -> bool {
        self.previous
            .iter()
            .any(|&(replaced, before)| replaced == signal && before == libc::SIG_IGN)
    }
}

impl Drop for Replaced {
    fn drop(&mut self) {
        for &(signal, before) in &self.previous {
            if before != libc::SIG_ERR {
                // SAFETY: puts back the disposition that was in place before.
                unsafe { libc::signal(signal, before) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Dispositions are process-wide: these tests take turns.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn disposition(signal: libc::c_int) -> libc::sighandler_t {
        // SAFETY: a null new action only reads the current one.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut current);
            current.sa_sigaction
        }
    }

    extern "C" fn ignore_signal(_signal: libc::c_int) {}

    #[test]
    fn replaced_dispositions_are_put_back_and_ignored_ones_stay_ignored() {
        let _turn = ONE_AT_A_TIME.lock();
        // SIGUSR1/SIGUSR2 belong to no other test of this process.
        let ignored = Replaced::ignore(&[libc::SIGUSR2]);
        assert_eq!(disposition(libc::SIGUSR2), libc::SIG_IGN);
        let caught = Replaced::catch(&[libc::SIGUSR1, libc::SIGUSR2], ignore_signal);
        assert_ne!(disposition(libc::SIGUSR1), libc::SIG_DFL);
        assert_eq!(disposition(libc::SIGUSR2), libc::SIG_IGN);
        assert!(caught.was_ignored(libc::SIGUSR2) && !caught.was_ignored(libc::SIGUSR1));
        drop(caught);
        assert_eq!(disposition(libc::SIGUSR1), libc::SIG_DFL);
        drop(ignored);
        assert_eq!(disposition(libc::SIGUSR2), libc::SIG_DFL);
    }
}
