//! dlm: a terminal download manager.
//!
//! - `engine`: the download engine (scheduler, transfers, naming, resume, retries). No UI code.
//! - `headless`: `dlm get`, the engine without a screen, for scripts.
//! - `cli`: command-line parsing.
//! - `inputs`: reading URL lists (`-i FILE`).
//! - `format`: human-readable sizes, rates and durations, shared by the front ends.
//! - `tui`: the interactive terminal UI (`dlm [URL…]`), a front end over the engine.

pub mod cli;
pub mod engine;
pub mod format;
pub mod headless;
pub mod inputs;
pub mod tui;
