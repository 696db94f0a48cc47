//! Printing when the reader may go away. `dlm ls | head -2` closes the pipe early: like other
//! command-line tools (ripgrep, fd), dlm then ends quietly with status 0 instead of printing
//! "Broken pipe" and failing. Messages on stderr are best effort: a closed stderr (`dlm get …
//! 2>&1 | head`) never stops a download or panics the way `eprintln!` does. Depends on std only.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout found the pipe closed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output that remembers a closed pipe, so `main` can tell "the reader left" from a
/// real failure (a closed control socket is a broken pipe too, and must still be reported).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

pub fn stdout() -> Stdout {
    Stdout
}

/// Whether stdout's reader has gone away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

fn note<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &result
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        STDOUT_CLOSED.store(true, Ordering::SeqCst);
    }
    result
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        note(io::stdout().lock().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        note(io::stdout().lock().write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        note(io::stdout().lock().flush())
    }
}

/// Writes `text` and a newline to stderr, ignoring a closed or failing stderr.
pub fn err_line(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.write_all(b"\n"));
}

/// Writes `text` to stderr as it is (a status line being redrawn), ignoring failures.
pub fn err_text(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_marks_stdout_closed() {
        assert!(note::<()>(Err(io::Error::other("disk full"))).is_err());
        assert!(!stdout_closed());
        assert!(note::<()>(Err(io::ErrorKind::BrokenPipe.into())).is_err());
        assert!(stdout_closed());
    }
}
