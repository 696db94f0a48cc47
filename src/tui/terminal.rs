//! The one module that owns the real terminal: raw mode, the alternate screen, bracketed paste
//! and mouse capture on the way in, all of it undone on the way out, on a panic in any thread
//! (tokio tasks included), and around a Ctrl-Z suspend. Depends on crossterm and ratatui only;
//! never on the engine or the app model.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Backend = CrosstermBackend<Stdout>;

/// Whether the terminal is in our full-screen state, so the panic hook restores it only then
/// (a panic after a clean exit must not print escape codes into the shell).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The full-screen terminal. Dropping it restores the terminal, so an early return or an
/// error path cannot leave the shell in raw mode.
pub struct Tui {
    pub terminal: Terminal<Backend>,
}

impl Tui {
    /// Installs the panic hook (once) and enters full-screen mode.
    pub fn enter() -> io::Result<Tui> {
        install_panic_hook();
        enter_raw()?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(Tui { terminal })
    }

    /// Ctrl-Z: give the shell its terminal back, stop the whole process as the shell expects,
    /// and take the screen again when `fg` continues it.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore();
        // SIGSTOP, not SIGTSTP: the event loop handles SIGTSTP (sent by `kill -TSTP`) by
        // calling this, so raising SIGTSTP here would only come back to us. `kill` returns
        // after the shell's `fg` sends SIGCONT.
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP);
        enter_raw()?;
        // The screen is whatever the shell left; forget what ratatui thinks is on it.
        self.terminal.clear()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

fn enter_raw() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste, EnableClicks, cursor::Hide)
}

/// Mouse reports for presses, releases and the wheel only (modes 1000 and 1006, SGR encoded).
/// crossterm's `EnableMouseCapture` also asks for every motion (1002, 1003), which the UI does
/// not use and which made terminals send a report for each pixel the pointer crossed.
/// `DisableMouseCapture` turns all of them off again.
struct EnableClicks;

impl crossterm::Command for EnableClicks {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1000h\x1b[?1006h")
    }
}

/// Leaves full-screen mode. Safe to call more than once; errors are ignored because this runs
/// on the way out, where there is no one left to tell.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(out, DisableMouseCapture, DisableBracketedPaste, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// A panic anywhere first restores the terminal, then lets the default hook print the message
/// (now readable, on a sane screen), then ends the process: a UI whose state is unknown must
/// not keep drawing, and a panic in a tokio task would otherwise be swallowed by its join
/// handle while the screen stays dead.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let was_active = ACTIVE.load(Ordering::SeqCst);
            restore();
            previous(info);
            if was_active {
                eprintln!(
                    "dlm: internal error; the terminal was restored. Partial downloads stay as .part files."
                );
                std::process::exit(101);
            }
        }));
    });
}

/// `NO_COLOR` set to anything non-empty turns colours off (https://no-color.org).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
