//! `dlm add`, `dlm ls` and `dlm pause|resume|remove|retry|refresh ID…` from another shell:
//! through the control socket when a dlm runs, otherwise straight on the saved queue (under
//! the state lock): `dlm add` and the changes by id append to its journal, `dlm ls` reads it.
//! Depends on `control`, `state`, `format` and the engine's URL check; never on the session's
//! internals or the TUI.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::control::{self, Client, ClientError};

mod add;

use crate::engine::parse_download_url;
use crate::engine::{ItemState, redact_str};
use crate::state::{Edit, EditAnswer, ItemRecord, StateError, StateLock, StateStore, edit_saved};
use crate::{format, output};
pub use add::{AddOptions, add};

/// How long `dlm add`/`dlm ls` wait for the state lock when it is busy: a dlm that is starting,
/// or another `dlm add` writing the saved queue, holds it only briefly.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Prints the running dlm's queue, or the saved one with a note on stderr; only the items in
/// one of `states` when any are given.
pub async fn ls(json: bool, states: &[ItemState], out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut items = match reach(|| Ok(StateStore::from_env()?)).await? {
        Reached::Running(mut client) => client.ls().await?,
        Reached::Saved(store, _lock) => {
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
    };
    if !states.is_empty() {
        items.retain(|item| states.contains(&item.state));
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &items)?;
        writeln!(out)?;
    } else if items.is_empty() && !states.is_empty() {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        writeln!(out, "no {} items", names.join(" or "))?;
    } else {
        out.write_all(table(&items).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `dlm pause|resume|remove|retry|refresh`: applies `edit` to each id in the running dlm, or
/// in the saved queue when none runs. Prints what became of each id (failures on stderr);
/// the exit status is 1 when any id failed.
pub async fn edit(
    edit: Edit,
    ids: Vec<u64>,
    save_credentials: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    if ids.is_empty() {
        anyhow::bail!("no item ids given (they are the ID column of dlm ls)");
    }
    if let Edit::Refresh(url) = &edit {
        parse_download_url(url).map_err(|e| anyhow::anyhow!("refresh: {e}"))?;
    }
    let store =
        || -> anyhow::Result<StateStore> { Ok(StateStore::from_env()?.saving_credentials(save_credentials)) };
    let answers = match reach(store).await? {
        Reached::Running(mut client) => {
            let mut answers = Vec::with_capacity(ids.len());
            for ids in ids.chunks(control::MAX_URLS) {
                answers.extend(client.edit(&edit, ids.to_vec()).await?);
            }
            answers
        }
        Reached::Saved(store, _lock) => {
            let (notice, answers) = edit_saved(&store, &edit, &ids)?;
            if let Some(notice) = notice {
                output::err_line(&format!("dlm: {notice}"));
            }
            if answers.iter().any(|a| a.ok) {
                writeln!(
                    out,
                    "dlm is not running: changed the saved queue ({}); the next dlm to open sees it",
                    store.queue_path().display()
                )?;
            }
            answers
        }
    };
    print_answers(&answers, out)?;
    let failed = answers.iter().any(|a| !a.ok);
    Ok(if failed { ExitCode::from(crate::headless::EXIT_FAILED) } else { ExitCode::SUCCESS })
}

fn print_answers(answers: &[EditAnswer], out: &mut impl Write) -> std::io::Result<()> {
    for answer in answers {
        if answer.ok {
            writeln!(out, "{}: {}", answer.id, answer.message)?;
        } else {
            output::err_line(&format!("dlm: {}: {}", answer.id, answer.message));
        }
    }
    Ok(())
}

/// Where a command from another shell goes: the running dlm, or the saved queue (locked).
enum Reached {
    Running(Client),
    Saved(StateStore, StateLock),
}

/// Connects to the running dlm; when none answers, takes the state lock for the saved queue.
/// A dlm that holds the lock but whose socket did not answer a moment ago is starting: its
/// socket is asked once more before giving up.
async fn reach(store: impl FnOnce() -> anyhow::Result<StateStore>) -> anyhow::Result<Reached> {
    let socket = control::socket_path().context("cannot find a folder for dlm's control socket")?;
    match Client::connect(&socket).await {
        Ok(client) => Ok(Reached::Running(client)),
        Err(ClientError::NotRunning(_)) => {
            let store = store()?;
            match lock_off_the_runtime(&store).await? {
                Ok(lock) => Ok(Reached::Saved(store, lock)),
                Err(locked @ StateError::Locked { .. }) => {
                    let client = Client::connect(&socket).await.map_err(|_| {
                        anyhow::anyhow!("{locked}; its control socket {} does not answer", socket.display())
                    })?;
                    Ok(Reached::Running(client))
                }
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
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
        // The checksum's mark after the name, as in the TUI's table (`✓ sha256`, `✗ mismatch`).
        if let Some(checksum) = &item.checksum {
            text.push_str(&format!("  {}", format::checksum_mark(checksum)));
        }
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

    #[test]
    fn table_marks_an_items_checksum_after_its_name() {
        use crate::engine::{Algo, ChecksumSource, ChecksumState, ExpectedChecksum};
        let expected =
            ExpectedChecksum::from_hex(Algo::Sha256, &"ab".repeat(32), ChecksumSource::User).unwrap();
        let with = |state| ItemRecord {
            name: Some("a.iso".into()),
            checksum: Some(Box::new(crate::engine::ChecksumView { state, ..expected.pending() })),
            ..ItemRecord::new(1, "http://h/a.iso", None)
        };
        assert!(table(&[with(ChecksumState::Verified)]).lines().nth(1).unwrap().ends_with("a.iso  ✓ sha256"));
        assert!(
            table(&[with(ChecksumState::Mismatch)]).lines().nth(1).unwrap().ends_with("a.iso  ✗ mismatch")
        );
        let none = ItemRecord { name: Some("b".into()), ..ItemRecord::new(2, "http://h/b", None) };
        assert!(table(&[none]).lines().nth(1).unwrap().ends_with(" b"), "no mark without a checksum");
    }
}
