//! What the keys that reach outside dlm ask for: open the selected file or its folder, copy
//! its URL or path. Part of `App`, pure like the rest of it: the event loop does the opening
//! and the writing to the terminal (`tui::system`). Depends on the engine's item types.

use crate::engine::ItemState;
use crate::tui::keys::KeyAction;

use super::{App, Effect, Level};

impl App {
    /// `o`, `O`, `y`, `Y` on the selected row.
    pub(super) fn desktop(&mut self, action: KeyAction) -> Vec<Effect> {
        let Some(row) = self.selected() else {
            self.say(Level::Info, "no transfer selected");
            return Vec::new();
        };
        let label = row.label().to_string();
        let (effect, said) = match action {
            KeyAction::OpenFile => match (&row.path, row.state) {
                (Some(path), ItemState::Done) => (Effect::Open(path.clone()), format!("opening {label}")),
                _ => {
                    let text = format!("{label} is not complete yet; O opens its folder");
                    self.say(Level::Info, text);
                    return Vec::new();
                }
            },
            KeyAction::OpenFolder => {
                (Effect::Open(row.dir.clone()), format!("opening {}", row.dir.display()))
            }
            // The URL exactly as the row shows it: credentials were removed when it was added,
            // so a copy never leaks a password into a clipboard manager.
            KeyAction::CopyUrl => (
                Effect::Copy(row.url.clone()),
                format!("copied the URL of {label} (if your terminal allows OSC 52)"),
            ),
            _ => match &row.path {
                Some(path) => (
                    Effect::Copy(path.display().to_string()),
                    format!("copied the path of {label} (if your terminal allows OSC 52)"),
                ),
                None => {
                    self.say(Level::Info, format!("{label} has no file name yet; y copies its URL"));
                    return Vec::new();
                }
            },
        };
        self.say(Level::Info, said);
        vec![effect]
    }
}
