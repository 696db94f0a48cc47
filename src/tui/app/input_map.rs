//! Input mapping: which `Action` a terminal event means, by the key table in the main view
//! and raw keys for dialogs and text boxes (Ctrl-C always reaches *quit*). Part of `App`;
//! depends on crossterm's event types and the key table.

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind};

use super::super::keys::KeyAction;
use super::{Action, App, Mode};

impl App {
    /// Translates a terminal event into an action, using the key table in the main view and
    /// passing keys through raw to dialogs and text boxes. Events that mean nothing (mouse
    /// motion, focus) give `None`, so they do not even redraw.
    pub fn action_for(&self, event: &Event) -> Option<Action> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                let bound = self.keymap.action_for(key);
                let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                    && matches!(key.code, KeyCode::Char('c' | 'C'));
                match (&self.mode, bound) {
                    (Mode::Normal, Some(action)) => Some(Action::Key(action)),
                    // Ctrl-C must always get out, whatever has the keyboard.
                    (_, _) if ctrl_c => Some(Action::Key(KeyAction::Quit)),
                    (Mode::Help { .. }, Some(a @ (KeyAction::Help | KeyAction::Quit))) => {
                        Some(Action::Key(a))
                    }
                    _ => Some(Action::Input(*key)),
                }
            }
            Event::Paste(text) => Some(Action::Paste(text.clone())),
            Event::Mouse(m) => match m.kind {
                MouseEventKind::Down(MouseButton::Left) => {
                    Some(Action::Click { column: m.column, row: m.row })
                }
                MouseEventKind::ScrollUp => Some(Action::ScrollUp),
                MouseEventKind::ScrollDown => Some(Action::ScrollDown),
                _ => None,
            },
            Event::Resize(width, height) => Some(Action::Resize { width: *width, height: *height }),
            _ => None,
        }
    }
}
