//! Notifications that work in any terminal, also over SSH: escape sequences the terminal
//! turns into a desktop notification (OSC 777, OSC 9, OSC 99) or a bell, and progress in the
//! tab or taskbar (OSC 9;4), passed through tmux when inside it. Which form a terminal
//! understands is read from the environment (the table at `choose_form`). Pure byte builders
//! plus a small writer; no D-Bus. Depends on serde (config names) and std only.

use std::io::{self, Write};

use serde::Deserialize;

/// Config `notify`: whether to notify at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyMode {
    /// Only when stdout is a terminal.
    #[default]
    Auto,
    Off,
    /// Also when stdout is not a terminal (a wrapper that passes the output on to one).
    Always,
}

/// Config `notify_on`: what is worth a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    /// Only the queue finishing.
    Queue,
    /// The queue finishing, and each failure.
    #[default]
    Failures,
    /// The queue finishing, and each item done or failed.
    Each,
}

/// A notification's escape sequence, by the terminals that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `OSC 777 ; notify ; TITLE ; BODY`: foot, WezTerm, Ghostty, VTE terminals.
    Osc777,
    /// `OSC 9 ; TEXT`: iTerm2, Windows Terminal.
    Osc9,
    /// `OSC 99`: kitty's protocol (title and body).
    Osc99,
    /// `BEL`: every terminal, when none of the above is known to work.
    Bell,
}

/// The taskbar progress states of `OSC 9 ; 4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Remove the progress indicator (state 0).
    Clear,
    /// Downloading, at this percent (state 1).
    Normal(u8),
    /// Something failed, at this percent (state 2).
    Error(u8),
    /// Running, no size known (state 3).
    Indeterminate,
    /// Everything paused, at this percent (state 4).
    Paused(u8),
}

/// Longest title or body written, in characters; terminals truncate anyway.
const MAX_TEXT: usize = 200;

/// Reads the environment through `var` and picks the notification form:
///
/// | environment | form |
/// |---|---|
/// | `KITTY_WINDOW_ID` set, or `TERM=xterm-kitty` | OSC 99 |
/// | `TERM_PROGRAM=iTerm.app`, or `LC_TERMINAL=iTerm2` (passed over SSH) | OSC 9 |
/// | `WT_SESSION` set (Windows Terminal) | OSC 9 |
/// | `TERM_PROGRAM=WezTerm`, `WEZTERM_PANE` set, or `TERM=wezterm` | OSC 777 |
/// | `TERM_PROGRAM=ghostty`, `GHOSTTY_RESOURCES_DIR` set, or `TERM=xterm-ghostty` | OSC 777 |
/// | `TERM=foot` or `foot-…` | OSC 777 |
/// | `VTE_VERSION` set (GNOME Terminal, Tilix, …) | OSC 777 |
/// | anything else | bell |
///
/// Inside tmux `TERM_PROGRAM` is tmux's own, but the other variables come from the terminal
/// tmux was started in.
pub fn choose_form(var: impl Fn(&str) -> Option<String>) -> Form {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let is = |name: &str, value: &str| var(name).is_some_and(|v| v == value);
    let term = var("TERM").unwrap_or_default();
    if set("KITTY_WINDOW_ID") || term == "xterm-kitty" {
        Form::Osc99
    } else if is("TERM_PROGRAM", "iTerm.app") || is("LC_TERMINAL", "iTerm2") || set("WT_SESSION") {
        Form::Osc9
    } else if is("TERM_PROGRAM", "WezTerm")
        || set("WEZTERM_PANE")
        || term == "wezterm"
        || is("TERM_PROGRAM", "ghostty")
        || set("GHOSTTY_RESOURCES_DIR")
        || term == "xterm-ghostty"
        || term == "foot"
        || term.starts_with("foot-")
        || set("VTE_VERSION")
    {
        Form::Osc777
    } else {
        Form::Bell
    }
}

/// Whether the terminal is known to show `OSC 9 ; 4` progress (Windows Terminal, ConEmu,
/// Ghostty, WezTerm). Others may read `OSC 9` as a notification, so they get none.
pub fn shows_progress(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let is = |name: &str, value: &str| var(name).is_some_and(|v| v == value);
    set("WT_SESSION")
        || is("ConEmuANSI", "ON")
        || is("TERM_PROGRAM", "ghostty")
        || set("GHOSTTY_RESOURCES_DIR")
        || is("TERM_PROGRAM", "WezTerm")
        || set("WEZTERM_PANE")
}

/// Text safe inside an escape sequence: control characters (ESC, BEL, C1 codes such as the
/// one-byte ST) become spaces, so a file name cannot end the sequence early or start another;
/// `;`, which separates fields, becomes `,`; capped at `MAX_TEXT` characters.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                ' '
            } else if c == ';' {
                ','
            } else {
                c
            }
        })
        .take(MAX_TEXT)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The bytes of a notification in `form` (the text is cleaned here).
pub fn notification(form: Form, title: &str, body: &str) -> Vec<u8> {
    let (title, body) = (clean(title), clean(body));
    match form {
        Form::Osc777 => format!("\x1b]777;notify;{title};{body}\x1b\\").into_bytes(),
        // One text: the title leads, so a body starting with digits is not read as a
        // sub-command (`OSC 9 ; 4` is progress).
        Form::Osc9 => format!("\x1b]9;{title}: {body}\x1b\\").into_bytes(),
        // kitty: the title (`d=0`: more to come), then the body (`p=body`) of notification `i`.
        Form::Osc99 => {
            format!("\x1b]99;i=dlm:d=0;{title}\x1b\\\x1b]99;i=dlm:d=1:p=body;{body}\x1b\\").into_bytes()
        }
        Form::Bell => b"\x07".to_vec(),
    }
}

/// The bytes of an `OSC 9 ; 4` progress report; percents above 100 are read as 100.
pub fn progress(state: Progress) -> Vec<u8> {
    let (code, percent) = match state {
        Progress::Clear => (0, 0),
        Progress::Normal(p) => (1, p),
        Progress::Error(p) => (2, p),
        Progress::Indeterminate => (3, 0),
        Progress::Paused(p) => (4, p),
    };
    format!("\x1b]9;4;{code};{}\x1b\\", percent.min(100)).into_bytes()
}

/// `sequence` wrapped for tmux's passthrough (`ESC P tmux; … ESC \`, every ESC inside
/// doubled), which reaches the outer terminal when tmux has `allow-passthrough on`. A bare
/// bell is left alone: tmux passes bells on itself.
pub fn for_tmux(sequence: &[u8]) -> Vec<u8> {
    if !sequence.contains(&0x1b) {
        return sequence.to_vec();
    }
    let mut out = b"\x1bPtmux;".to_vec();
    for &b in sequence {
        if b == 0x1b {
            out.push(0x1b);
        }
        out.push(b);
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// What a front end notifies with: decided once from the config and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    enabled: bool,
    on: NotifyOn,
    form: Form,
    progress: bool,
    tmux: bool,
}

impl Notifier {
    /// `stdout_is_terminal`: whether the output goes to a terminal (`auto` needs one).
    pub fn new(
        mode: NotifyMode,
        on: NotifyOn,
        stdout_is_terminal: bool,
        var: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let enabled = match mode {
            NotifyMode::Off => false,
            NotifyMode::Auto => stdout_is_terminal,
            NotifyMode::Always => true,
        };
        Self {
            enabled,
            on,
            form: choose_form(&var),
            progress: shows_progress(&var),
            tmux: var("TMUX").is_some_and(|v| !v.is_empty()),
        }
    }

    /// From the process's own environment.
    pub fn from_env(mode: NotifyMode, on: NotifyOn, stdout_is_terminal: bool) -> Self {
        Self::new(mode, on, stdout_is_terminal, |name| std::env::var(name).ok())
    }

    /// The sequence for one item that ended (`name`, done or failed), if `notify_on` wants it.
    pub fn item_finished(&self, name: &str, failed: bool) -> Option<Vec<u8>> {
        let wanted = match self.on {
            NotifyOn::Queue => false,
            NotifyOn::Failures => failed,
            NotifyOn::Each => true,
        };
        let title = if failed { "dlm: download failed" } else { "dlm: download done" };
        (self.enabled && wanted).then(|| self.wrap(notification(self.form, title, name)))
    }

    /// The sequence for the queue finishing.
    pub fn queue_done(&self, done: usize, failed: usize) -> Option<Vec<u8>> {
        let body = match failed {
            0 => format!("{done} downloaded"),
            _ => format!("{done} downloaded, {failed} failed"),
        };
        self.enabled.then(|| self.wrap(notification(self.form, "dlm: queue finished", &body)))
    }

    /// The taskbar progress sequence, for terminals that show it.
    pub fn progress(&self, state: Progress) -> Option<Vec<u8>> {
        (self.enabled && self.progress).then(|| self.wrap(progress(state)))
    }

    fn wrap(&self, sequence: Vec<u8>) -> Vec<u8> {
        if self.tmux { for_tmux(&sequence) } else { sequence }
    }

    /// Writes `sequence` (if any) and flushes; a terminal that went away is not an error
    /// worth more than a lost notification.
    pub fn write(out: &mut impl Write, sequence: Option<Vec<u8>>) -> io::Result<()> {
        if let Some(bytes) = sequence {
            out.write_all(&bytes)?;
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn each_form_is_the_documented_bytes() {
        assert_eq!(notification(Form::Osc777, "dlm", "a.iso"), b"\x1b]777;notify;dlm;a.iso\x1b\\");
        assert_eq!(notification(Form::Osc9, "dlm", "4;1 a.iso"), b"\x1b]9;dlm: 4,1 a.iso\x1b\\");
        assert_eq!(
            notification(Form::Osc99, "dlm", "a.iso"),
            b"\x1b]99;i=dlm:d=0;dlm\x1b\\\x1b]99;i=dlm:d=1:p=body;a.iso\x1b\\"
        );
        assert_eq!(notification(Form::Bell, "dlm", "a.iso"), b"\x07");
    }

    #[test]
    fn progress_states_are_osc_9_4() {
        assert_eq!(progress(Progress::Clear), b"\x1b]9;4;0;0\x1b\\");
        assert_eq!(progress(Progress::Normal(42)), b"\x1b]9;4;1;42\x1b\\");
        assert_eq!(progress(Progress::Error(250)), b"\x1b]9;4;2;100\x1b\\");
        assert_eq!(progress(Progress::Indeterminate), b"\x1b]9;4;3;0\x1b\\");
        assert_eq!(progress(Progress::Paused(7)), b"\x1b]9;4;4;7\x1b\\");
    }

    #[test]
    fn a_file_name_cannot_inject_escapes() {
        let evil = "x\x1b]0;pwned\x07\u{9c}\x1b\\y;z\n";
        let bytes = notification(Form::Osc777, "dlm", evil);
        let text = String::from_utf8(bytes).unwrap();
        let inner = text.strip_prefix("\x1b]777;notify;dlm;").unwrap().strip_suffix("\x1b\\").unwrap();
        assert!(!inner.chars().any(char::is_control), "{inner:?}");
        assert_eq!(inner, "x ]0,pwned   \\y,z");
        assert_eq!(clean(&"é".repeat(500)).chars().count(), MAX_TEXT);
    }

    #[test]
    fn tmux_passthrough_doubles_every_escape() {
        assert_eq!(for_tmux(b"\x1b]9;4;1;5\x1b\\"), b"\x1bPtmux;\x1b\x1b]9;4;1;5\x1b\x1b\\\x1b\\");
        assert_eq!(for_tmux(b"\x07"), b"\x07", "tmux passes bells on itself");
    }

    #[test]
    fn the_form_follows_the_table() {
        let cases: [(&[(&str, &str)], Form); 12] = [
            (&[("KITTY_WINDOW_ID", "1"), ("TERM", "xterm-256color")], Form::Osc99),
            (&[("TERM", "xterm-kitty")], Form::Osc99),
            (&[("TERM_PROGRAM", "iTerm.app")], Form::Osc9),
            (&[("TERM_PROGRAM", "tmux"), ("LC_TERMINAL", "iTerm2")], Form::Osc9),
            (&[("WT_SESSION", "abc")], Form::Osc9),
            (&[("TERM_PROGRAM", "WezTerm")], Form::Osc777),
            (&[("TERM", "xterm-ghostty")], Form::Osc777),
            (&[("TERM", "foot-extra")], Form::Osc777),
            (&[("VTE_VERSION", "7600")], Form::Osc777),
            (&[("TERM", "xterm-256color")], Form::Bell),
            (&[("TERM", "footloose")], Form::Bell),
            (&[], Form::Bell),
        ];
        for (vars, form) in cases {
            assert_eq!(choose_form(env(vars)), form, "{vars:?}");
        }
        assert!(shows_progress(env(&[("WT_SESSION", "x")])));
        assert!(shows_progress(env(&[("ConEmuANSI", "ON")])));
        assert!(
            !shows_progress(env(&[("TERM_PROGRAM", "iTerm.app")])),
            "iTerm2 reads OSC 9 as a notification"
        );
    }

    #[test]
    fn the_notifier_respects_the_mode_the_choice_and_tmux() {
        let ghostty_in_tmux = env(&[("TERM_PROGRAM", "ghostty"), ("TMUX", "/tmp/tmux-0/default,1,0")]);
        let n = Notifier::new(NotifyMode::Auto, NotifyOn::Failures, true, ghostty_in_tmux);
        let failed = n.item_finished("a.iso", true).unwrap();
        assert!(
            failed.starts_with(b"\x1bPtmux;\x1b\x1b]777;notify;dlm: download failed;a.iso"),
            "{failed:?}"
        );
        assert_eq!(n.item_finished("a.iso", false), None, "only failures by default");
        assert!(n.queue_done(3, 1).unwrap().windows(22).any(|w| w == b"3 downloaded, 1 failed"));
        assert!(n.progress(Progress::Normal(50)).is_some());

        let piped =
            Notifier::new(NotifyMode::Auto, NotifyOn::Each, false, env(&[("TERM_PROGRAM", "ghostty")]));
        assert_eq!((piped.queue_done(1, 0), piped.item_finished("a", false)), (None, None));
        assert_eq!(piped.progress(Progress::Clear), None, "auto: off when stdout is not a terminal");
        let off = Notifier::new(NotifyMode::Off, NotifyOn::Each, true, env(&[("TERM_PROGRAM", "ghostty")]));
        assert_eq!(
            (off.queue_done(1, 0), off.item_finished("a", true), off.progress(Progress::Clear)),
            (None, None, None)
        );
        let always = Notifier::new(NotifyMode::Always, NotifyOn::Queue, false, env(&[]));
        assert_eq!(always.queue_done(1, 0), Some(b"\x07".to_vec()), "a bell where nothing better is known");
        assert_eq!(always.item_finished("a", true), None, "notify_on = queue");
        assert_eq!(always.progress(Progress::Normal(1)), None, "unknown terminals get no progress");
    }

    #[test]
    fn the_writer_writes_and_flushes_only_what_there_is() {
        let mut out = Vec::new();
        Notifier::write(&mut out, None).unwrap();
        Notifier::write(&mut out, Some(b"\x07".to_vec())).unwrap();
        assert_eq!(out, b"\x07");
    }
}
