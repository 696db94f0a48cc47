//! A small multi-line text input: the add dialog's text box and the filter line. Holds text and
//! a cursor, applies editing keys and pastes. Pure state; depends on crossterm's key types only,
//! never on the engine or the terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Text as lines of characters, and a cursor `(row, column)` counted in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextInput {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    /// The filter is one line: newlines in pastes become spaces there.
    multiline: bool,
    /// All the text is selected (the filter reopened): typing or pasting replaces it,
    /// Backspace or Delete clears it, a move keeps it and ends the selection.
    selected: bool,
}

/// What a key did to the input, so the owner knows whether to react.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Changed,
    Moved,
    /// The key means nothing to a text input (Enter, Esc, F-keys…); the owner decides.
    Ignored,
}

impl TextInput {
    pub fn new(multiline: bool) -> Self {
        Self { lines: vec![Vec::new()], row: 0, col: 0, multiline, selected: false }
    }

    pub fn text(&self) -> String {
        self.lines.iter().map(|l| l.iter().collect::<String>()).collect::<Vec<_>>().join("\n")
    }

    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.lines.iter().map(|l| l.iter().collect())
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.len() == 1 && self.lines[0].is_empty()
    }

    /// Selects all the text (when there is any), so what comes next replaces it.
    pub fn select_all(&mut self) {
        self.selected = !self.is_empty();
    }

    pub fn is_selected(&self) -> bool {
        self.selected
    }

    /// Ends a selection: a replacing edit first clears the text it covers.
    fn take_selection(&mut self, replacing: bool) {
        if std::mem::take(&mut self.selected) && replacing {
            self.clear();
        }
    }

    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    /// Inserts text at the cursor. Carriage returns are dropped (terminals paste `\r\n` or
    /// `\r`), tabs become spaces so columns stay predictable.
    pub fn insert_str(&mut self, text: &str) {
        self.take_selection(true);
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for c in text.chars() {
            match c {
                '\n' if self.multiline => self.newline(),
                '\n' | '\t' => self.insert_char(' '),
                c if c.is_control() => {}
                c => self.insert_char(c),
            }
        }
    }

    pub fn insert_char(&mut self, c: char) {
        self.take_selection(true);
        self.lines[self.row].insert(self.col, c);
        self.col += 1;
    }

    pub fn newline(&mut self) {
        let tail = self.lines[self.row].split_off(self.col);
        self.row += 1;
        self.lines.insert(self.row, tail);
        self.col = 0;
    }

    pub fn clear(&mut self) {
        *self = Self::new(self.multiline);
    }

    /// Applies an editing key: characters, Backspace/Delete, arrows, Home/End, Ctrl-A/E
    /// (line start/end), Ctrl-U (delete to line start), Ctrl-K (to line end), Ctrl-W (word
    /// before the cursor), Alt-Enter or Ctrl-J (new line, in a multi-line input).
    pub fn handle_key(&mut self, key: &KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if self.selected {
            let replacing = match key.code {
                KeyCode::Backspace | KeyCode::Delete => {
                    self.take_selection(true);
                    return Edit::Changed;
                }
                KeyCode::Char(_) => !ctrl && !alt,
                _ => false,
            };
            self.take_selection(replacing);
        }
        let line_len = self.lines[self.row].len();
        match key.code {
            KeyCode::Char('a') if ctrl => self.col = 0,
            KeyCode::Char('e') if ctrl => self.col = line_len,
            KeyCode::Char('u') if ctrl => {
                self.lines[self.row].drain(..self.col);
                self.col = 0;
                return Edit::Changed;
            }
            KeyCode::Char('k') if ctrl => {
                self.lines[self.row].truncate(self.col);
                return Edit::Changed;
            }
            KeyCode::Char('w') if ctrl => {
                let line = &mut self.lines[self.row];
                let mut start = self.col;
                while start > 0 && line[start - 1].is_whitespace() {
                    start -= 1;
                }
                while start > 0 && !line[start - 1].is_whitespace() {
                    start -= 1;
                }
                line.drain(start..self.col);
                self.col = start;
                return Edit::Changed;
            }
            KeyCode::Char('j') if ctrl && self.multiline => {
                self.newline();
                return Edit::Changed;
            }
            KeyCode::Enter if alt && self.multiline => {
                self.newline();
                return Edit::Changed;
            }
            KeyCode::Char(c) if !ctrl && !alt => {
                self.insert_char(c);
                return Edit::Changed;
            }
            KeyCode::Backspace => {
                if self.col > 0 {
                    self.col -= 1;
                    self.lines[self.row].remove(self.col);
                } else if self.row > 0 {
                    let line = self.lines.remove(self.row);
                    self.row -= 1;
                    self.col = self.lines[self.row].len();
                    self.lines[self.row].extend(line);
                } else {
                    return Edit::Ignored;
                }
                return Edit::Changed;
            }
            KeyCode::Delete => {
                if self.col < line_len {
                    self.lines[self.row].remove(self.col);
                } else if self.row + 1 < self.lines.len() {
                    let next = self.lines.remove(self.row + 1);
                    self.lines[self.row].extend(next);
                } else {
                    return Edit::Ignored;
                }
                return Edit::Changed;
            }
            KeyCode::Left if self.col > 0 => self.col -= 1,
            KeyCode::Left if self.row > 0 => {
                self.row -= 1;
                self.col = self.lines[self.row].len();
            }
            KeyCode::Right if self.col < line_len => self.col += 1,
            KeyCode::Right if self.row + 1 < self.lines.len() => {
                self.row += 1;
                self.col = 0;
            }
            KeyCode::Up if self.row > 0 => {
                self.row -= 1;
                self.col = self.col.min(self.lines[self.row].len());
            }
            KeyCode::Down if self.row + 1 < self.lines.len() => {
                self.row += 1;
                self.col = self.col.min(self.lines[self.row].len());
            }
            KeyCode::Home => self.col = 0,
            KeyCode::End => self.col = line_len,
            KeyCode::Left | KeyCode::Right | KeyCode::Up | KeyCode::Down => {}
            _ => return Edit::Ignored,
        }
        Edit::Moved
    }

    /// The first visible column and row that keep the cursor inside a `width`×`height` box.
    pub fn scroll_for(&self, width: usize, height: usize) -> (usize, usize) {
        let col0 = (self.col + 1).saturating_sub(width.max(1));
        let row0 = (self.row + 1).saturating_sub(height.max(1));
        (col0, row0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEventKind, KeyEventState};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        }
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        }
    }

    #[test]
    fn typing_moving_and_deleting() {
        let mut t = TextInput::new(true);
        for c in "htp://x".chars() {
            t.handle_key(&key(KeyCode::Char(c)));
        }
        for _ in 0..5 {
            t.handle_key(&key(KeyCode::Left));
        }
        t.handle_key(&key(KeyCode::Char('t')));
        assert_eq!(t.text(), "http://x");
        t.handle_key(&key(KeyCode::End));
        t.handle_key(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "http://");
        t.handle_key(&ctrl('w'));
        assert!(t.is_empty());
        assert_eq!(t.handle_key(&key(KeyCode::Backspace)), Edit::Ignored);
        assert_eq!(t.handle_key(&key(KeyCode::Enter)), Edit::Ignored);
    }

    #[test]
    fn multi_line_paste_and_joining_lines() {
        let mut t = TextInput::new(true);
        t.insert_str("http://a/1\r\nhttp://a/2\n");
        assert_eq!(t.line_count(), 3);
        assert_eq!(t.cursor(), (2, 0));
        t.handle_key(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "http://a/1\nhttp://a/2");
        t.handle_key(&key(KeyCode::Home));
        t.handle_key(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "http://a/1http://a/2");
        t.handle_key(&ctrl('k'));
        assert_eq!(t.text(), "http://a/1");
    }

    #[test]
    fn single_line_input_flattens_pastes() {
        let mut t = TextInput::new(false);
        t.insert_str("a\nb\tc");
        assert_eq!(t.text(), "a b c");
        assert_eq!(t.handle_key(&ctrl('j')), Edit::Ignored);
    }

    #[test]
    fn a_selected_text_is_replaced_by_typing_and_kept_by_moves() {
        let mut t = TextInput::new(false);
        t.insert_str("old");
        t.select_all();
        t.handle_key(&key(KeyCode::Char('n')));
        assert_eq!(t.text(), "n");
        t.select_all();
        t.handle_key(&key(KeyCode::Left));
        t.handle_key(&key(KeyCode::Char('x')));
        assert_eq!(t.text(), "xn");
        t.select_all();
        assert_eq!(t.handle_key(&key(KeyCode::Backspace)), Edit::Changed);
        assert!(t.is_empty());
        t.insert_str("a");
        t.select_all();
        t.insert_str("pasted");
        assert_eq!(t.text(), "pasted");
    }

    #[test]
    fn scroll_keeps_cursor_visible() {
        let mut t = TextInput::new(false);
        t.insert_str("0123456789");
        assert_eq!(t.scroll_for(4, 1), (7, 0));
        t.handle_key(&key(KeyCode::Home));
        assert_eq!(t.scroll_for(4, 1), (0, 0));
    }
}
