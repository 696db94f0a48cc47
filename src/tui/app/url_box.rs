//! The URL box (`u`): a new link for the selected item, for a signed URL that expired or a
//! mirror that moved. It opens with the URL the row shows (credentials are never shown, so a
//! `user:password@` must be typed again if the new link needs one); Enter with the URL
//! unchanged does nothing; a URL the engine would refuse keeps the box open with the reason.
//! The engine continues the item from its `.part` on the new URL. Part of `App`, pure; depends
//! on the engine's command types and URL check.

use crossterm::event::{KeyCode, KeyEvent};

use crate::engine::{Command, ItemId, ItemState, parse_download_url};

use super::{App, Effect, Level, Mode};

impl App {
    /// `u`: opens the box for the selected item. A done item has nothing left to fetch.
    pub(super) fn open_url_box(&mut self) {
        let Some(row) = self.selected() else {
            self.say(Level::Warn, "nothing selected");
            return;
        };
        if row.state == ItemState::Done {
            let text = format!("{} is done: nothing left to download from a new link", row.label());
            self.say(Level::Info, text);
            return;
        }
        let (id, url) = (row.id, row.url.clone());
        self.url_input.clear();
        self.url_input.insert_str(&url);
        self.mode = Mode::UrlBox(id);
    }

    /// A key while the box is open.
    pub(super) fn url_box_key(&mut self, id: ItemId, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => return self.submit_url(id),
            _ => {
                self.url_input.handle_key(&key);
            }
        }
        Vec::new()
    }

    /// A paste into the box: one line, so a URL copied with its newline does not end up with
    /// one.
    pub(super) fn url_box_paste(&mut self, text: &str) {
        self.url_input.insert_str(text.trim());
    }

    fn submit_url(&mut self, id: ItemId) -> Vec<Effect> {
        let url = self.url_input.text().trim().to_string();
        let Some(row) = self.row(id) else {
            self.mode = Mode::Normal;
            self.say(Level::Warn, "that transfer is gone");
            return Vec::new();
        };
        if url == row.url {
            self.mode = Mode::Normal;
            self.say(Level::Info, "URL unchanged: nothing sent");
            return Vec::new();
        }
        // The check `EngineHandle::refresh` makes, here so the box can stay open to fix it.
        if let Err(e) = parse_download_url(&url) {
            self.say(Level::Warn, format!("not a download URL: {e}"));
            return Vec::new();
        }
        let text = format!("{}: new link; continues from what is on disk", row.label());
        self.mode = Mode::Normal;
        self.say(Level::Info, text);
        vec![Effect::Send(Command::Refresh { id, url })]
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::engine::{EngineEvent, ItemError};
    use crate::tui::app::Action;
    use crate::tui::keys::{KeyAction, KeyMap};

    fn key(code: KeyCode) -> Action {
        Action::Input(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn app_with(url: &str) -> App {
        let now = Instant::now();
        let mut app = App::new(KeyMap::default(), PathBuf::from("/d"), 2, now);
        app.apply(EngineEvent::added(ItemId(1), url, "/d"), now);
        app
    }

    #[test]
    fn u_opens_the_box_with_the_url_and_enter_sends_the_new_one() {
        let mut app = app_with("http://h/old.iso?sig=1");
        app.apply(EngineEvent::Failed { id: ItemId(1), error: ItemError::other("403") }, Instant::now());
        assert!(app.update(Action::Key(KeyAction::RefreshUrl)).is_empty());
        assert_eq!(
            (app.mode.clone(), app.url_input.text()),
            (Mode::UrlBox(ItemId(1)), "http://h/old.iso?sig=1".into())
        );
        app.update(Action::Paste("x".into()));
        for _ in 0.."sig=1x".len() {
            app.update(key(KeyCode::Backspace));
        }
        app.update(Action::Paste("sig=2\n".into()));
        let effects = app.update(key(KeyCode::Enter));
        let url = "http://h/old.iso?sig=2".to_string();
        assert_eq!(effects, vec![Effect::Send(Command::Refresh { id: ItemId(1), url })]);
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn an_unchanged_url_sends_nothing_and_a_bad_one_keeps_the_box_open() {
        let mut app = app_with("http://h/a.iso");
        app.update(Action::Key(KeyAction::RefreshUrl));
        assert!(app.update(key(KeyCode::Enter)).is_empty());
        assert_eq!(app.mode, Mode::Normal);
        assert!(app.message.as_ref().unwrap().text.contains("unchanged"));

        app.update(Action::Key(KeyAction::RefreshUrl));
        app.url_input.clear();
        app.update(Action::Paste("ftp://h/a.iso".into()));
        assert!(app.update(key(KeyCode::Enter)).is_empty());
        assert_eq!(app.mode, Mode::UrlBox(ItemId(1)), "still open to fix it");
        assert!(app.message.as_ref().unwrap().text.starts_with("not a download URL"));
        assert!(app.update(key(KeyCode::Esc)).is_empty());
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn a_done_item_gets_no_box() {
        let mut app = app_with("http://h/a.iso");
        let done =
            EngineEvent::Completed { id: ItemId(1), path: "/d/a.iso".into(), bytes: 1, skipped: false };
        app.apply(done, Instant::now());
        app.update(Action::Key(KeyAction::RefreshUrl));
        assert_eq!(app.mode, Mode::Normal);
    }
}
