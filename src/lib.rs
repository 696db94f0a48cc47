//! dlm: a terminal download manager.
//!
//! - `engine`: the download engine (scheduler, transfers, naming, resume, retries). No UI code.
//! - `headless`: `dlm get`, the engine without a screen, for scripts.
//! - `actions`: hooks and notifications driven by engine events, for the front ends to wire.
//! - `milestones`: an item finished, the queue finished: what hooks and notifications act on.
//! - `hooks`: `on_complete`, `on_error`, `on_queue_done` programs, bounded and timed out.
//! - `notify`: terminal notifications (OSC 777/9/99, bell) and taskbar progress (OSC 9;4).
//! - `cli`: command-line parsing.
//! - `config`: the config file (TOML), its lookup order and its error messages.
//! - `control`: the control socket (server for a running dlm, client for `dlm add`/`dlm ls`).
//! - `remote`: `dlm add` and `dlm ls`, through the socket or, with no dlm running, the saved queue.
//! - `session`: lock + restore + saver + control socket in one value for the TUI.
//! - `curl`: a browser's "Copy as cURL" read back into a URL, headers and cookies.
//! - `headers`: `Name: value` request headers, and header files for `-H @FILE`.
//! - `inputs`: reading URL lists (`-i FILE`).
//! - `output`: printing that survives a closed pipe (`dlm ls | head`).
//! - `suggest`: "did you mean" for mistyped names (config keys, `[keys]` actions and keys).
//! - `state`: the saved queue (file format, event fold, atomic debounced saving, lock, restore).
//! - `format`: human-readable sizes, rates and durations, shared by the front ends.
//! - `tui`: the interactive terminal UI (`dlm [URL…]`), a front end over the engine.

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
pub mod milestones;
pub mod notify;
pub mod output;
pub mod remote;
pub mod session;
pub mod state;
pub mod suggest;
pub mod tui;
