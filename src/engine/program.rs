//! Running an external program the person configured (the refresh command here, hooks in
//! `crate::hooks`): an argv, never a shell; stdin null; the environment inherited minus any
//! `DLM_*` variables, plus the ones given; stdout and stderr captured up to a cap; killed with
//! its whole process group on timeout or as soon as the caller stops waiting (a pause, a
//! cancel, quitting). Depends on tokio's process support and rustix.

use std::fmt;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// Bytes kept of each of stdout and stderr; the rest is read and dropped, so a chatty
/// program never blocks on a full pipe and never fills memory.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// How long the output pipes may stay open after the program exited: a background child it
/// left behind may hold them open for ever, and its output is not the program's answer.
const PIPE_GRACE: Duration = Duration::from_millis(250);

/// A program and its arguments, as the config gives it: `["program", "arg", …]`. Never empty,
/// and the program name is never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program(Vec<String>);

impl Program {
    /// Checks an argv: at least the program, and a program name that is not blank.
    pub fn new(argv: Vec<String>) -> Result<Self, String> {
        match argv.first() {
            None => Err("expected [\"program\", \"arg\", …], found an empty list".into()),
            Some(name) if name.trim().is_empty() => Err("the program name (first element) is empty".into()),
            Some(_) => Ok(Self(argv)),
        }
    }

    pub fn argv(&self) -> &[String] {
        &self.0
    }

    /// The program as given (its first element).
    pub fn name(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }
}

impl<'de> Deserialize<'de> for Program {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Argv;
        impl<'de> de::Visitor<'de> for Argv {
            type Value = Vec<String>;
            // A string here is most often a shell command line, which is not run as such.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list [\"program\", \"arg\", …] (it is run without a shell)")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Ok(argv)
            }
        }
        let argv = d.deserialize_seq(Argv)?;
        Program::new(argv).map_err(de::Error::custom)
    }
}

/// How a program ended that ran to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub status: ExitStatus,
    /// The first `OUTPUT_CAP` bytes of each.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a program did not run to its end.
#[derive(Debug)]
pub enum NotRun {
    /// It could not be started (not found, not executable).
    Spawn(io::Error),
    /// It ran longer than its timeout and was killed.
    TimedOut { after: Duration, stderr: Vec<u8> },
    /// The caller stopped waiting (the token fired); it was killed.
    Stopped,
}

impl fmt::Display for NotRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn(e) => write!(f, "cannot start it: {e}"),
            Self::TimedOut { after, .. } => write!(f, "killed after the {}s timeout", after.as_secs_f64()),
            Self::Stopped => f.write_str("stopped"),
        }
    }
}

/// Runs `program` with `env` added, until it exits, `timeout` passes or `stop` fires.
pub async fn run(
    program: &Program,
    env: &[(&str, String)],
    timeout: Duration,
    stop: &CancellationToken,
) -> Result<Ran, NotRun> {
    if stop.is_cancelled() {
        return Err(NotRun::Stopped);
    }
    let argv = program.argv();
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Its own process group, so a timeout kills what a script started too (`sh -c 'sleep …'`).
    command.process_group(0).kill_on_drop(true);
    // A hook must see exactly the documented variables, not a DLM_CONFIG or a stale
    // DLM_CHECKSUM from the shell that started dlm.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DLM_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = command.spawn().map_err(NotRun::Spawn)?;
    let group = GroupKiller(child.id());
    let mut stdout = Captured::start(child.stdout.take());
    let mut stderr = Captured::start(child.stderr.take());
    let status = tokio::select! {
        () = stop.cancelled() => return Err(NotRun::Stopped),
        () = tokio::time::sleep(timeout) => {
            drop(group);
            return Err(NotRun::TimedOut { after: timeout, stderr: stderr.take() });
        }
        status = child.wait() => status.map_err(NotRun::Spawn)?,
    };
    group.disarm();
    let _ = tokio::time::timeout(PIPE_GRACE, async {
        stdout.done().await;
        stderr.done().await;
    })
    .await;
    Ok(Ran { status, stdout: stdout.take(), stderr: stderr.take() })
}

/// Kills a program's process group when dropped, unless it exited first: its id cannot be
/// reused before it is reaped, which happens only after `disarm`.
struct GroupKiller(Option<u32>);

impl GroupKiller {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        let pid = self.0.and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            // Already gone is fine; `kill_on_drop` still kills the program itself.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// One output pipe read on its own task into a capped buffer.
struct Captured {
    buffer: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Captured {
    fn start(pipe: Option<impl AsyncRead + Unpin + Send + 'static>) -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let task = pipe.map(|mut pipe| {
            let buffer = Arc::clone(&buffer);
            tokio::spawn(async move {
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                    let mut kept = buffer.lock().unwrap_or_else(|e| e.into_inner());
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            })
        });
        Self { buffer, task }
    }

    /// Waits until the pipe is closed (every writer, children included, is gone).
    async fn done(&mut self) {
        if let Some(task) = &mut self.task {
            let _ = task.await;
            self.task = None;
        }
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.buffer.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The first lines of a program's output as one line of text for a message: control
/// characters (escape sequences included) become spaces, runs of blanks one space, and the
/// result is cut at `max` characters with an ellipsis.
pub fn excerpt(output: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let mut out = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > max {
            let cut: String = out.chars().take(max).collect();
            return format!("{}…", cut.trim_end());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argv_needs_a_program() {
        assert!(Program::new(vec![]).is_err());
        assert!(Program::new(vec![" ".into(), "x".into()]).is_err());
        assert_eq!(Program::new(vec!["sh".into()]).unwrap().name(), "sh");
    }

    #[test]
    fn an_excerpt_is_one_clean_capped_line() {
        assert_eq!(
            excerpt(b"  error:\n  token \x1b[31mexpired\x1b[0m\n", 100),
            "error: token [31mexpired [0m"
        );
        assert_eq!(excerpt("é".repeat(10).as_bytes(), 4), "éééé…");
        assert_eq!(excerpt(b"", 10), "");
    }
}
