//! dlm: a terminal download manager. The crate in layers, each depending only on the ones
//! below it (`tests/architecture.rs` checks the rules):
//!
//! **Front ends** — what a person runs; they talk to the session, never to the engine's
//! internals:
//! - `tui`: the interactive terminal UI (`dlm [URL…]`).
//! - `headless`: `dlm get`, the same session without a screen (nothing saved), for scripts.
//! - `remote`: `dlm add` and `dlm ls` from another shell, through the control socket, or on
//!   the saved queue when no dlm runs.
//!
//! **Session** — between the engine and every front end; no UI code:
//! - `session`: one task that owns the engine, folds its events into one model of
//!   `ItemSnapshot`s, saves the queue, serves the control socket and forwards events.
//! - `state`: the saved queue on disk (snapshot + journal), its lock, and the restore plan.
//! - `control`: the control socket's protocol, server and client.
//!
//! **Engine** — downloads; imports nothing above it:
//! - `engine`: scheduler, transfers, naming, resume, retries; `ItemSnapshot` and its one fold.
//!
//! **Shared helpers** — used by any layer above the engine:
//! - `cli`: command-line parsing. `config`: the config file (TOML), its lookup order and
//!   errors, `[[rule]]`s and `[[schedule]]`s. `inputs`: reading URL lists. `output`: printing
//!   that survives a closed pipe. `format`: sizes, rates and durations for people.
//!   `suggest`: "did you mean". `curl`: a browser's "Copy as cURL" read back into a URL,
//!   headers and cookies. `headers`: `Name: value` headers and header files (`-H @FILE`).
//! - `actions`: hooks and notifications driven by engine events (`milestones`: an item or the
//!   queue finished; `hooks`: `on_complete`, `on_error`, `on_queue_done` programs, bounded and
//!   timed out; `notify`: terminal notifications and taskbar progress by escape sequence).
//!
//! The rules in words: the engine never imports a layer above it; the session, `state` and
//! `control` never import a front end or a UI crate (ratatui, crossterm); front ends reach
//! the engine only through the session and the engine's message types (`Command`,
//! `EngineEvent`, `ItemSnapshot`), never its modules or `Engine` itself.

pub mod actions;
pub mod cli;
pub mod config;
pub mod control;
pub mod curl;
pub mod engine;
pub mod format;
pub mod headers;
pub mod headless;
pub mod hooks;
pub mod inputs;
pub mod jsonl;
pub mod milestones;
pub mod notify;
pub mod output;
pub mod remote;
pub mod session;
pub mod state;
pub mod suggest;
pub mod tui;
