//! The key table: every named action a key can trigger, its default keys and its help text,
//! and the `KeyMap` that applies the config's overrides (key specs are read by `spec`). The
//! input handler, the footer and the help overlay all read this one table, so the help can
//! never disagree with what the keys do. Depends on crossterm's key types only; never on the
//! engine, the terminal or rendering.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::KeyEvent;

use crate::suggest::closest;

mod spec;

pub use spec::{Key, KeyCodeOrd};

/// A named thing a person can ask for with a key in the main view. Adding one means adding a
/// variant, a row in `ALL` and an arm in `App::update`; the help, the footer and the key table
/// in README.md follow by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAction {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Add,
    TogglePause,
    PauseAll,
    ResumeAll,
    Cancel,
    Retry,
    Remove,
    WorkersUp,
    WorkersDown,
    RateLimit,
    ItemRateLimit,
    ConnectionsUp,
    ConnectionsDown,
    Filter,
    Details,
    Help,
    Suspend,
    Quit,
    RefreshUrl,
    Sort,
    NextFailed,
    NextRunning,
    RemoveFinished,
    RetryFailed,
    OpenFile,
    OpenFolder,
    CopyUrl,
    CopyPath,
    DownloadFolder,
}

/// Sections of the help overlay, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Move,
    Transfers,
    Limits,
    Files,
    View,
    App,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Self::Move => "Move",
            Self::Transfers => "Transfers",
            Self::Limits => "Speed and connections",
            Self::Files => "Files",
            Self::View => "View",
            Self::App => "App",
        }
    }
}

/// Static facts about an action: its config name, help line, section, footer label, defaults.
pub struct ActionInfo {
    pub action: KeyAction,
    /// The name used in the config file's `[keys]` table.
    pub name: &'static str,
    pub help: &'static str,
    pub section: Section,
    /// Short label for the footer, if the action earns a place there.
    pub footer: Option<&'static str>,
    pub defaults: &'static [&'static str],
}

/// The table, in help order. The footer shows the actions with a label, in this order, as many
/// as fit.
pub const ALL: &[ActionInfo] = &[
    info(KeyAction::Up, "up", "select the previous transfer", Section::Move, None, &["up", "k"]),
    info(KeyAction::Down, "down", "select the next transfer", Section::Move, None, &["down", "j"]),
    info(KeyAction::PageUp, "page_up", "move up one page", Section::Move, None, &["pageup"]),
    info(KeyAction::PageDown, "page_down", "move down one page", Section::Move, None, &["pagedown"]),
    info(KeyAction::Top, "top", "go to the first transfer", Section::Move, None, &["g", "home"]),
    info(KeyAction::Bottom, "bottom", "go to the last transfer", Section::Move, None, &["G", "end"]),
    info(
        KeyAction::Add,
        "add",
        "add URLs (a text box; pasting works there too)",
        Section::Transfers,
        Some("add"),
        &["a"],
    ),
    info(
        KeyAction::TogglePause,
        "pause",
        "pause or resume the selected transfer",
        Section::Transfers,
        Some("pause"),
        &["p", "space"],
    ),
    info(KeyAction::PauseAll, "pause_all", "pause every transfer", Section::Transfers, None, &["P"]),
    info(
        KeyAction::ResumeAll,
        "resume_all",
        "resume every paused transfer",
        Section::Transfers,
        None,
        &["R"],
    ),
    info(
        KeyAction::Cancel,
        "cancel",
        "cancel the selected transfer (asks first)",
        Section::Transfers,
        Some("cancel"),
        &["c"],
    ),
    info(
        KeyAction::Retry,
        "retry",
        "retry a failed or cancelled transfer; a completed one downloads again (asks)",
        Section::Transfers,
        Some("retry"),
        &["r"],
    ),
    info(
        KeyAction::Remove,
        "remove",
        "remove a finished transfer from the list",
        Section::Transfers,
        None,
        &["d", "delete"],
    ),
    info(
        KeyAction::WorkersUp,
        "workers_up",
        "allow one more download at once (max 64)",
        Section::Transfers,
        Some("workers"),
        &["+", "="],
    ),
    info(
        KeyAction::WorkersDown,
        "workers_down",
        "allow one fewer download at once",
        Section::Transfers,
        None,
        &["-"],
    ),
    info(
        KeyAction::RateLimit,
        "rate_limit",
        "limit the rate of all downloads together (0: no limit)",
        Section::Limits,
        Some("limit"),
        &["l"],
    ),
    info(
        KeyAction::ItemRateLimit,
        "item_rate_limit",
        "limit the rate of the selected transfer alone",
        Section::Limits,
        None,
        &["L"],
    ),
    info(
        KeyAction::ConnectionsUp,
        "connections_up",
        "one more connection for the selected transfer (max 32)",
        Section::Limits,
        None,
        &["x"],
    ),
    info(
        KeyAction::ConnectionsDown,
        "connections_down",
        "one fewer connection for the selected transfer",
        Section::Limits,
        None,
        &["X"],
    ),
    info(
        KeyAction::Filter,
        "filter",
        "filter the list by name, URL or state (/running, /failed)",
        Section::View,
        Some("filter"),
        &["/"],
    ),
    info(
        KeyAction::Details,
        "details",
        "show or hide details of the selected transfer",
        Section::View,
        Some("details"),
        &["enter"],
    ),
    info(KeyAction::Help, "help", "show or hide this help", Section::View, Some("help"), &["?", "F1"]),
    info(
        KeyAction::Suspend,
        "suspend",
        "suspend to the shell (fg comes back)",
        Section::App,
        None,
        &["ctrl-z"],
    ),
    info(
        KeyAction::Quit,
        "quit",
        "quit (asks first while downloads run)",
        Section::App,
        Some("quit"),
        &["q", "ctrl-c"],
    ),
    info(
        KeyAction::RefreshUrl,
        "refresh_url",
        "give the selected transfer a new URL (keeps its .part)",
        Section::Transfers,
        None,
        &["u"],
    ),
    info(
        KeyAction::Sort,
        "sort",
        "sort by queue order, state (running first), progress, rate or name",
        Section::View,
        None,
        &["s"],
    ),
    info(
        KeyAction::NextFailed,
        "next_failed",
        "jump to the next failed transfer",
        Section::Move,
        None,
        &["f"],
    ),
    info(
        KeyAction::NextRunning,
        "next_running",
        "jump to the next running transfer",
        Section::Move,
        None,
        &["n"],
    ),
    info(
        KeyAction::RemoveFinished,
        "remove_finished",
        "remove every completed transfer from the list (asks; files stay)",
        Section::Transfers,
        None,
        &["D"],
    ),
    info(
        KeyAction::RetryFailed,
        "retry_failed",
        "retry every failed transfer",
        Section::Transfers,
        None,
        &["ctrl-r"],
    ),
    info(KeyAction::OpenFile, "open", "open the selected file", Section::Files, None, &["o"]),
    info(
        KeyAction::OpenFolder,
        "open_folder",
        "open the folder of the selected transfer",
        Section::Files,
        None,
        &["O"],
    ),
    info(
        KeyAction::CopyUrl,
        "copy_url",
        "copy the URL of the selected transfer (OSC 52)",
        Section::Files,
        None,
        &["y"],
    ),
    info(KeyAction::CopyPath, "copy_path", "copy the file's path (OSC 52)", Section::Files, None, &["Y"]),
    info(
        KeyAction::DownloadFolder,
        "download_folder",
        "change the folder new downloads go to",
        Section::Files,
        None,
        &["F"],
    ),
];

#[allow(clippy::too_many_arguments)]
const fn info(
    action: KeyAction,
    name: &'static str,
    help: &'static str,
    section: Section,
    footer: Option<&'static str>,
    defaults: &'static [&'static str],
) -> ActionInfo {
    ActionInfo { action, name, help, section, footer, defaults }
}

impl KeyAction {
    pub fn info(self) -> &'static ActionInfo {
        // Every variant has a row; the unit test `every_action_has_one_row` keeps it so.
        ALL.iter().find(|i| i.action == self).unwrap_or(&ALL[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().find(|i| i.name == name).map(|i| i.action)
    }
}

/// A mistake in the config's `[keys]` table: the entry (its action name as written) and what is
/// wrong with it, so the config can point at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysError {
    pub action: String,
    pub message: String,
}

impl fmt::Display for KeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[keys] {}: {}", self.action, self.message)
    }
}

impl std::error::Error for KeysError {}

/// Which keys trigger which actions in the main view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    bindings: BTreeMap<KeyAction, Vec<Key>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let bindings = ALL
            .iter()
            .map(|i| {
                // The defaults are constants checked by `defaults_parse`; a bad one is skipped
                // rather than crashing the program.
                (i.action, i.defaults.iter().filter_map(|s| Key::parse(s).ok()).collect())
            })
            .collect();
        Self { bindings }
    }
}

impl KeyMap {
    /// The defaults with the config file's `[keys]` table on top: action name → key spec, or
    /// several specs separated by spaces (`"k up"`). An overridden action loses its default
    /// keys; a key given to an action is taken away from any other action that had it by
    /// default. Unknown action names and unreadable specs are errors naming the entry.
    /// The config file checks its `[keys]` table with this, so a mistake stops every command
    /// with the file and line, not only the UI.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<KeyMap, KeysError> {
        let mut map = KeyMap::default();
        let mut parsed = Vec::new();
        for (name, specs) in overrides {
            let error = |message: String| KeysError { action: name.clone(), message };
            let action = KeyAction::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|i| i.name).collect();
                error(match closest(name, &names) {
                    Some(best) => format!("`{name}` is not an action; did you mean `{best}`?"),
                    None => format!("`{name}` is not an action; the actions are {}", names.join(", ")),
                })
            })?;
            let keys =
                specs.split_whitespace().map(Key::parse).collect::<Result<Vec<_>, _>>().map_err(error)?;
            if keys.is_empty() {
                return Err(error("no key given".into()));
            }
            parsed.push((action, keys));
        }
        // Two overrides claiming the same key would make one of them silently dead.
        for (i, (a, keys)) in parsed.iter().enumerate() {
            for (b, other) in &parsed[i + 1..] {
                if let Some(k) = keys.iter().find(|k| other.contains(k)) {
                    return Err(KeysError {
                        action: b.name().to_string(),
                        message: format!("{k} is also given to {}", a.name()),
                    });
                }
            }
        }
        for (action, keys) in parsed {
            for list in map.bindings.values_mut() {
                list.retain(|k| !keys.contains(k));
            }
            map.bindings.insert(action, keys);
        }
        Ok(map)
    }

    /// The action bound to a key press, if any.
    pub fn action_for(&self, ev: &KeyEvent) -> Option<KeyAction> {
        let key = Key::from_event(ev)?;
        self.bindings.iter().find(|(_, keys)| keys.contains(&key)).map(|(a, _)| *a)
    }

    pub fn keys(&self, action: KeyAction) -> &[Key] {
        self.bindings.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The keys of an action as the help shows them: `p, Space`.
    pub fn describe(&self, action: KeyAction) -> String {
        let keys = self.keys(action);
        if keys.is_empty() {
            "(unbound)".to_string()
        } else {
            keys.iter().map(Key::to_string).collect::<Vec<_>>().join(", ")
        }
    }

    /// The first key of an action, as the footer shows it.
    pub fn short(&self, action: KeyAction) -> Option<String> {
        self.keys(action).first().map(Key::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEventKind, KeyEventState, KeyModifiers};

    fn ev(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent { code, modifiers, kind: KeyEventKind::Press, state: KeyEventState::NONE }
    }

    #[test]
    fn every_action_has_one_row_and_defaults_parse() {
        for (i, row) in ALL.iter().enumerate() {
            assert_eq!(ALL.iter().filter(|r| r.action == row.action).count(), 1, "{}", row.name);
            assert_eq!(KeyAction::from_name(row.name), Some(row.action));
            for spec in row.defaults {
                assert!(Key::parse(spec).is_ok(), "{spec}");
            }
            assert!(ALL[..i].iter().all(|r| r.name != row.name));
        }
        // No default key is bound twice.
        let map = KeyMap::default();
        let all: Vec<Key> = map.bindings.values().flatten().copied().collect();
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(all.len(), dedup.len());
    }

    #[test]
    fn events_match_defaults() {
        let map = KeyMap::default();
        assert_eq!(map.action_for(&ev(KeyCode::Char('P'), KeyModifiers::SHIFT)), Some(KeyAction::PauseAll));
        assert_eq!(map.action_for(&ev(KeyCode::Char('p'), KeyModifiers::NONE)), Some(KeyAction::TogglePause));
        assert_eq!(map.action_for(&ev(KeyCode::Char(' '), KeyModifiers::NONE)), Some(KeyAction::TogglePause));
        assert_eq!(map.action_for(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(KeyAction::Quit));
        assert_eq!(map.action_for(&ev(KeyCode::Char('C'), KeyModifiers::CONTROL)), Some(KeyAction::Quit));
        assert_eq!(map.action_for(&ev(KeyCode::Char('c'), KeyModifiers::NONE)), Some(KeyAction::Cancel));
        assert_eq!(map.action_for(&ev(KeyCode::Char('+'), KeyModifiers::SHIFT)), Some(KeyAction::WorkersUp));
        assert_eq!(map.action_for(&ev(KeyCode::Down, KeyModifiers::NONE)), Some(KeyAction::Down));
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(KeyAction::ConnectionsUp)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('X'), KeyModifiers::SHIFT)),
            Some(KeyAction::ConnectionsDown)
        );
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('L'), KeyModifiers::SHIFT)),
            Some(KeyAction::ItemRateLimit)
        );
        assert_eq!(map.action_for(&ev(KeyCode::Char('y'), KeyModifiers::NONE)), Some(KeyAction::CopyUrl));
        assert_eq!(
            map.action_for(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(KeyAction::RetryFailed)
        );
        assert_eq!(map.action_for(&ev(KeyCode::Char('z'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn specs_parse_and_print() {
        assert_eq!(Key::parse("ctrl-c").unwrap().to_string(), "Ctrl-C");
        assert_eq!(Key::parse("Ctrl+X").unwrap().to_string(), "Ctrl-X");
        assert_eq!(Key::parse("space").unwrap().to_string(), "Space");
        assert_eq!(Key::parse("F5").unwrap().to_string(), "F5");
        assert_eq!(Key::parse("alt-enter").unwrap().to_string(), "Alt-Enter");
        assert_eq!(Key::parse("-").unwrap().to_string(), "-");
        assert_eq!(Key::parse("PgDn").unwrap(), Key::parse("pagedown").unwrap());
        assert!(Key::parse("").is_err());
        assert!(Key::parse("hyper-x").is_err());
        assert!(Key::parse("F99").is_err());
    }

    #[test]
    fn overrides_replace_defaults_and_steal_keys() {
        let mut o = BTreeMap::new();
        o.insert("pause".to_string(), "x F5".to_string());
        o.insert("quit".to_string(), "p".to_string());
        let map = KeyMap::with_overrides(&o).unwrap();
        assert_eq!(map.describe(KeyAction::TogglePause), "x, F5");
        assert_eq!(map.describe(KeyAction::Quit), "p");
        assert_eq!(map.action_for(&ev(KeyCode::Char('p'), KeyModifiers::NONE)), Some(KeyAction::Quit));
        assert_eq!(map.action_for(&ev(KeyCode::Char('q'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn bad_overrides_are_errors() {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let err = |o| KeyMap::with_overrides(&o).unwrap_err().to_string();
        assert_eq!(err(one("pasue", "f")), "[keys] pasue: `pasue` is not an action; did you mean `pause`?");
        assert!(
            err(one("fly", "f")).contains("the actions are up, down, page_up"),
            "{}",
            err(one("fly", "f"))
        );
        assert!(err(one("pause", "hyper-x")).starts_with("[keys] pause: unknown key"));
        assert_eq!(
            err(one("pause", "p spcae")),
            "[keys] pause: unknown key \"spcae\"; did you mean `space`?"
        );
        assert_eq!(err(one("pause", " ")), "[keys] pause: no key given");
        let mut two = one("pause", "x");
        two.insert("retry".into(), "x".into());
        assert_eq!(err(two), "[keys] retry: x is also given to pause");
    }
}
