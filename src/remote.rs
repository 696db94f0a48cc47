//! `dlm add` and `dlm ls` from another shell: through the control socket when a dlm runs,
//! otherwise straight on the saved queue (under the state lock): `dlm add` appends to its
//! journal, `dlm ls` reads it. Depends on `control`, `state`, `format` and the engine's URL
//! check; never on the session's internals or the TUI.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::control::{self, Client, ClientError};
use crate::engine::parse_download_url;
use crate::engine::{ItemState, redact_str};
use crate::headless::Input;
use crate::state::{ItemRecord, StateError, StateLock, StateStore};
use crate::{format, output};

/// How long `dlm add`/`dlm ls` wait for the state lock when it is busy: a dlm that is starting,
/// or another `dlm add` writing the saved queue, holds it only briefly.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Adds `inputs` to the running dlm or the saved queue; prints what happened on `out`.
/// Invalid URLs are reported with their origin and skipped; the exit status is then 1.
/// `dir` is `-o` or the config's `download_dir`; without one the items go to the folder this
/// command runs in, like `dlm get`. Either way the folder is sent and saved absolute, so it
/// means the same to a dlm running (or started later) in another folder.
pub async fn add(
    inputs: Vec<Input>,
    dir: Option<PathBuf>,
    save_credentials: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    if inputs.is_empty() {
        anyhow::bail!("no URLs given (pass URLs as arguments or -i FILE; see dlm add --help)");
    }
    let mut urls = Vec::new();
    let mut invalid = 0;
    for input in inputs {
        match parse_download_url(&input.url) {
            Ok(_) => urls.push(input.url),
            Err(e) => {
                output::err_line(&format!("dlm: {}: {e}", input.origin));
                invalid += 1;
            }
        }
    }
    let dir = match dir {
        Some(d) => d,
        None => std::env::current_dir().context("cannot tell which folder this shell is in")?,
    };
    let dir = Some(std::path::absolute(&dir).with_context(|| format!("bad folder {}", dir.display()))?);
    if !urls.is_empty() {
        let socket = control::socket_path().context("cannot find a folder for dlm's control socket")?;
        let count = urls.len();
        match Client::connect(&socket).await {
            Ok(mut client) => {
                client.add(urls, dir).await?;
                writeln!(out, "added {count} to the running dlm")?;
            }
            Err(ClientError::NotRunning(_)) => {
                let store = StateStore::from_env()?.saving_credentials(save_credentials);
                match lock_off_the_runtime(&store).await? {
                    Ok(_lock) => {
                        let loaded = store.append_new(urls, dir.clone())?;
                        if let Some(notice) = loaded.notice {
                            output::err_line(&format!("dlm: {notice}"));
                        }
                        writeln!(
                            out,
                            "dlm is not running: added {count} to the saved queue ({}); they start the \
                             next time dlm opens",
                            store.queue_path().display()
                        )?;
                    }
                    // A dlm holds the lock but its socket did not answer a moment ago: it is
                    // starting. Ask once more before giving up.
                    Err(locked @ StateError::Locked { .. }) => {
                        let mut client = Client::connect(&socket).await.map_err(|_| {
                            anyhow::anyhow!(
                                "{locked}; its control socket {} does not answer",
                                socket.display()
                            )
                        })?;
                        client.add(urls, dir).await?;
                        writeln!(out, "added {count} to the running dlm")?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if invalid > 0 { ExitCode::from(crate::headless::EXIT_FAILED) } else { ExitCode::SUCCESS })
}

/// Prints the running dlm's queue, or the saved one with a note on stderr.
pub async fn ls(json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let socket = control::socket_path().context("cannot find a folder for dlm's control socket")?;
    let items = match Client::connect(&socket).await {
        Ok(mut client) => client.ls().await?,
        Err(ClientError::NotRunning(_)) => {
            let store = StateStore::from_env()?;
            let _lock = lock_off_the_runtime(&store).await??;
            let loaded = store.load()?;
            if let Some(notice) = loaded.notice {
                output::err_line(&format!("dlm: {notice}"));
            }
            if !json {
                output::err_line(&format!(
                    "dlm is not running; this is the saved queue ({})",
                    store.queue_path().display()
                ));
            }
            // Shown as the running dlm would show them: never with credentials.
            loaded
                .queue
                .items
                .into_values()
                .map(|item| ItemRecord { url: redact_str(&item.url), ..item })
                .collect()
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &items)?;
        writeln!(out)?;
    } else {
        out.write_all(table(&items).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The `dlm ls` table: id, state, progress, and the file name (or URL before it is known).
pub fn table(items: &[ItemRecord]) -> String {
    if items.is_empty() {
        return "the queue is empty\n".into();
    }
    let mut text = format!("{:<5} {:<11} {:<24} {}\n", "ID", "STATE", "PROGRESS", "NAME");
    for item in items {
        let id = item.id;
        let progress = match item.total {
            Some(t) if t > 0 => format!(
                "{:>3}% {}/{}",
                (item.bytes.min(t) * 100 / t),
                format::bytes(item.bytes),
                format::bytes(t)
            ),
            _ if item.bytes > 0 => format::bytes(item.bytes),
            _ => String::new(),
        };
        let name = item.name.as_deref().unwrap_or(&item.url);
        // Names come from servers: never let one move the cursor or recolour the terminal.
        let name: String = name.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
        text.push_str(&format!("{id:<5} {:<11} {progress:<24} {name}", item.state.as_str()));
        if item.state == ItemState::Failed
            && let Some(error) = &item.error
        {
            let error: String = error.message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            text.push_str(&format!("  ({error})"));
        }
        text.push('\n');
    }
    text
}

/// Waits for the state lock on the blocking pool: the wait sleeps between tries.
async fn lock_off_the_runtime(store: &StateStore) -> anyhow::Result<Result<StateLock, StateError>> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || store.lock(LOCK_WAIT)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_id_state_progress_and_name() {
        let item = |id, state, name: Option<&str>, bytes, total| ItemRecord {
            name: name.map(str::to_string),
            state,
            bytes,
            total,
            error: (state == ItemState::Failed)
                .then(|| crate::engine::ItemError::other("server answered 404")),
            ..ItemRecord::new(id, "http://h/x", None)
        };
        let t = table(&[
            item(3, ItemState::Downloading, Some("a.iso"), 512, Some(1024)),
            item(7, ItemState::Queued, None, 0, None),
            item(4, ItemState::Failed, Some("evil\x1b[2J.txt"), 0, None),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ID    STATE       PROGRESS                 NAME");
        assert_eq!(lines[1], "3     downloading  50% 512 B/1.0 KiB       a.iso");
        assert_eq!(lines[2], "7     queued                               http://h/x");
        assert_eq!(
            lines[3],
            "4     failed                               evil?[2J.txt  (server answered 404)"
        );
        assert_eq!(table(&[]), "the queue is empty\n");
    }
}
