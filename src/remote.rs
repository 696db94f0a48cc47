//! `dlm add` and `dlm ls` from another shell: through the control socket when a dlm runs,
//! otherwise straight on the saved queue (under the state lock). Depends on `control`,
//! `state`, `format` and the engine's URL check; never on the TUI.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::control::{self, Client, ClientError};
use crate::engine::parse_download_url;
use crate::headless::Input;
use crate::state::{ListedItem, SavedItem, SavedState, StateError, StateStore};
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
                match store.lock(LOCK_WAIT) {
                    Ok(_lock) => {
                        let loaded = store.load()?;
                        if let Some(notice) = loaded.notice {
                            output::err_line(&format!("dlm: {notice}"));
                        }
                        let mut queue = loaded.queue;
                        queue.items.extend(urls.into_iter().map(|u| SavedItem::new(u, dir.clone())));
                        store.save(&queue)?;
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
            let _lock = store.lock(LOCK_WAIT)?;
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
            loaded.queue.items.iter().map(|item| ListedItem::new(None, item)).collect()
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
pub fn table(items: &[ListedItem]) -> String {
    if items.is_empty() {
        return "the queue is empty\n".into();
    }
    let mut text = format!("{:<5} {:<9} {:<24} {}\n", "ID", "STATE", "PROGRESS", "NAME");
    for item in items {
        let id = item.id.map_or_else(|| "-".into(), |i| i.to_string());
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
        text.push_str(&format!("{id:<5} {:<9} {progress:<24} {name}", item.state.as_str()));
        if item.state == SavedState::Failed
            && let Some(error) = &item.error
        {
            let error: String = error.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            text.push_str(&format!("  ({error})"));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_state_progress_and_name() {
        let item = |id, state, name: Option<&str>, bytes, total| ListedItem {
            id,
            url: "http://h/x".into(),
            name: name.map(str::to_string),
            dir: None,
            state,
            bytes,
            total,
            error: (state == SavedState::Failed).then(|| "server answered 404".into()),
        };
        let t = table(&[
            item(Some(3), SavedState::Running, Some("a.iso"), 512, Some(1024)),
            item(None, SavedState::Queued, None, 0, None),
            item(Some(4), SavedState::Failed, Some("evil\x1b[2J.txt"), 0, None),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ID    STATE     PROGRESS                 NAME");
        assert_eq!(lines[1], "3     running    50% 512 B/1.0 KiB       a.iso");
        assert_eq!(lines[2], "-     queued                             http://h/x");
        assert_eq!(lines[3], "4     failed                             evil?[2J.txt  (server answered 404)");
        assert_eq!(table(&[]), "the queue is empty\n");
    }
}
