//! Splitting a pasted command line into words, the way the shell it was copied for would: a
//! POSIX shell (`'…'`, `"…"`, `$'…'`, `\` escapes and line continuations; what browsers'
//! "Copy as cURL" and "Copy as cURL (bash)" give) or Windows `cmd` (`^` escapes and line
//! continuations, then `"…"` grouping with `\"`; Chrome's "Copy as cURL (cmd)"). Pure;
//! depends on std only.
//!
//! The words may be secrets: errors say what is wrong and where it is not, never the text.

/// Why a command line could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    #[error("a quote is not closed: paste the whole command")]
    Unclosed,
    #[error("the command line holds shell operators (;, |, &, <, >) outside quotes: paste one curl command")]
    Operator,
    #[error("an escape in a $'…' string is not valid")]
    BadEscape,
}

/// Whether `text` was copied for Windows `cmd`: its lines end in `^`, or it quotes with `^"`.
pub fn is_cmd(text: &str) -> bool {
    text.lines().any(|l| l.trim_end().ends_with('^')) || text.contains("^\"")
}

/// Words as a POSIX shell splits them.
pub fn posix(text: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    // A word can be empty but still there (`''`), so "started" is tracked apart from bytes.
    let mut started = false;
    let mut chars = text.chars().peekable();
    let push = |word: &mut Vec<u8>, c: char| word.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                }
                Some(next) => {
                    push(&mut word, next);
                    started = true;
                }
                None => {}
            },
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => push(&mut word, c),
                        None => return Err(WordsError::Unclosed),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => push(&mut word, c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push(b'\\');
                                push(&mut word, c);
                            }
                            None => return Err(WordsError::Unclosed),
                        },
                        Some(c) => push(&mut word, c),
                        None => return Err(WordsError::Unclosed),
                    }
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                started = true;
                ansi_c(&mut chars, &mut word)?;
            }
            ';' | '|' | '&' | '<' | '>' => return Err(WordsError::Operator),
            c if c.is_whitespace() => {
                if started {
                    words.push(
                        String::from_utf8(std::mem::take(&mut word)).map_err(|_| WordsError::BadEscape)?,
                    );
                    started = false;
                }
            }
            c => {
                push(&mut word, c);
                started = true;
            }
        }
    }
    if started {
        words.push(String::from_utf8(word).map_err(|_| WordsError::BadEscape)?);
    }
    Ok(words)
}

/// The rest of a `$'…'` string (after the opening quote), its escapes decoded into `word`.
fn ansi_c(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    word: &mut Vec<u8>,
) -> Result<(), WordsError> {
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, max: usize| {
        let mut n: u32 = 0;
        let mut digits = 0;
        while digits < max
            && let Some(d) = chars.peek().and_then(|c| c.to_digit(16))
        {
            n = n * 16 + d;
            digits += 1;
            chars.next();
        }
        (digits > 0).then_some(n).ok_or(WordsError::BadEscape)
    };
    loop {
        let c = chars.next().ok_or(WordsError::Unclosed)?;
        if c == '\'' {
            return Ok(());
        }
        if c != '\\' {
            word.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let escaped = chars.next().ok_or(WordsError::Unclosed)?;
        let byte = |b: u8| Some(vec![b]);
        let bytes: Option<Vec<u8>> = match escaped {
            'n' => byte(b'\n'),
            'r' => byte(b'\r'),
            't' => byte(b'\t'),
            'a' => byte(7),
            'b' => byte(8),
            'e' | 'E' => byte(27),
            'f' => byte(12),
            'v' => byte(11),
            '\\' | '\'' | '"' | '?' => byte(escaped as u8),
            // \xHH and octal \nnn are bytes (UTF-8 is checked when the word ends).
            'x' => byte(u8::try_from(hex(chars, 2)?).map_err(|_| WordsError::BadEscape)?),
            '0'..='7' => {
                let mut n = escaped.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                byte(u8::try_from(n).map_err(|_| WordsError::BadEscape)?)
            }
            'u' | 'U' => {
                let c = char::from_u32(hex(chars, if escaped == 'u' { 4 } else { 8 })?)
                    .ok_or(WordsError::BadEscape)?;
                Some(c.encode_utf8(&mut [0; 4]).as_bytes().to_vec())
            }
            other => Some(format!("\\{other}").into_bytes()),
        };
        word.extend(bytes.unwrap_or_default());
    }
}

/// Words as `cmd` and then a Windows program's argument parser split them.
pub fn cmd(text: &str) -> Vec<String> {
    // First `cmd`: outside its quotes `^` escapes the next character (and `^` at a line's end
    // joins the next line); inside them everything is literal. The quotes stay for the next
    // step, which is the program's own parsing.
    let mut line = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                line.push(c);
            }
            '^' if !quoted => match chars.next() {
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                }
                Some('\n') | None => {}
                Some(next) => line.push(next),
            },
            '\r' | '\n' if !quoted => line.push(' '),
            c => line.push(c),
        }
    }
    // Neither `cmd` nor the C runtime minds a quote left open: it runs to the end.
    windows_args(&line)
}

/// The Microsoft C runtime's rules: whitespace splits outside quotes, `"` toggles quoting,
/// `2n` backslashes before a quote are `n` backslashes (and the quote toggles), `2n+1` are `n`
/// and a literal quote; other backslashes are literal.
fn windows_args(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut n = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    n += 1;
                }
                if chars.peek() == Some(&'"') {
                    word.push_str(&"\\".repeat(n / 2));
                    if n % 2 == 1 {
                        chars.next();
                        word.push('"');
                    }
                } else {
                    word.push_str(&"\\".repeat(n));
                }
                started = true;
            }
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn posix_quotes_escapes_and_continuations() {
        let text = "curl 'https://e.com/a b' \\\n  -H \"X: \\\"q\\\" \\$HOME\" \\\r\n  -b $'a=\\'1\\'; \\u00e9\\x41' it\\ is ''";
        assert_eq!(
            posix(text).unwrap(),
            w(&["curl", "https://e.com/a b", "-H", "X: \"q\" $HOME", "-b", "a='1'; éA", "it is", ""])
        );
        assert_eq!(posix("a$'\\101\\t'b").unwrap(), w(&["aA\tb"]));
    }

    #[test]
    fn posix_refuses_open_quotes_and_operators() {
        assert_eq!(posix("curl 'https://e.com"), Err(WordsError::Unclosed));
        assert_eq!(posix("curl \"x"), Err(WordsError::Unclosed));
        assert_eq!(posix("curl $'x"), Err(WordsError::Unclosed));
        assert_eq!(posix("curl https://e.com/?a=1&b=2"), Err(WordsError::Operator));
        assert_eq!(posix("curl 'a' ; curl 'b'"), Err(WordsError::Operator));
        assert_eq!(posix("curl 'a;b|c&d'").unwrap(), w(&["curl", "a;b|c&d"]));
        assert_eq!(posix("x $'\\xff'"), Err(WordsError::BadEscape));
    }

    #[test]
    fn cmd_carets_and_windows_quoting() {
        let text = "curl ^\"https://e.com/?a=1^&b=2^\" ^\r\n  -H ^\"sec-ch-ua: ^\\^\"Chromium^\\^\";v=^\\^\"124^\\^\"^\" ^\n  -H \"accept: text/html\" ^\n  --compressed";
        assert!(is_cmd(text));
        assert_eq!(
            cmd(text),
            w(&[
                "curl",
                "https://e.com/?a=1&b=2",
                "-H",
                "sec-ch-ua: \"Chromium\";v=\"124\"",
                "-H",
                "accept: text/html",
                "--compressed"
            ])
        );
        assert_eq!(cmd("curl \"a^b\" c\\\\\\\"d"), w(&["curl", "a^b", "c\\\"d"]));
        assert_eq!(cmd("curl \"open"), w(&["curl", "open"]));
        assert!(!is_cmd("curl 'https://e.com/' \\\n -H 'a: b'"));
    }
}
