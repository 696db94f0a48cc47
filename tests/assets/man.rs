//! The man page `assets/dlm.1`, rendered from the clap definitions (`clap_mangen`) and the TUI's
//! one key table, so options and keys in it are those of the code. The FILES, ENVIRONMENT and
//! EXIT STATUS sections are written here, from README "Files dlm keeps".

use clap::CommandFactory;
use dlm::cli::Cli;
use dlm::tui::KeyMap;
use dlm::tui::ui::help_lines;

/// Roff text: a backslash is `\e`, a hyphen that may be an option's is `\-` (so a copied
/// `\-\-json` is two ASCII hyphens), and a line starting with `.` or `'` is not a request.
fn text(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|line| if line.starts_with(['.', '\'']) { format!("\\&{line}") } else { line.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A section of `.TP` paragraphs: a bold term, then what it means.
fn terms(out: &mut String, rows: &[(&str, &str)]) {
    for (term, meaning) in rows {
        out.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", text(term), text(meaning)));
    }
}

/// Text kept as it is laid out (examples).
fn verbatim(out: &mut String, body: &str) {
    out.push_str(&format!(".PP\n.nf\n{}\n.fi\n", text(body)));
}

fn render(
    man: &clap_mangen::Man,
    part: fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>,
) -> String {
    let mut buf = Vec::new();
    part(man, &mut buf).expect("render to memory");
    String::from_utf8(buf).expect("roff is UTF-8")
}

/// The whole page.
pub fn page() -> String {
    let mut cmd = Cli::command();
    // Gives every subcommand its full name (`dlm get`) and the global `--config`.
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = String::new();
    out.push_str(&render(&man, |m, w| m.render_title(w)));
    out.push_str(&render(&man, |m, w| m.render_name_section(w)));
    out.push_str(&render(&man, |m, w| m.render_synopsis_section(w)));
    out.push_str(&render(&man, |m, w| m.render_description_section(w)));
    out.push_str(&render(&man, |m, w| m.render_options_section(w)));
    if let Some(examples) = cmd.get_after_help() {
        out.push_str(".SH EXAMPLES\n");
        verbatim(&mut out, examples.to_string().trim_start_matches("Examples:\n"));
    }
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        commands_section(&mut out, sub);
    }
    keys_section(&mut out);
    files_section(&mut out);
    out
}

/// `.SH "DLM GET"`: what the command does, its synopsis and options (clap_mangen's sections
/// turned into subsections), and its examples.
fn commands_section(out: &mut String, sub: &clap::Command) {
    let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_string();
    out.push_str(&format!(".SH \"{}\"\n", text(&name.to_uppercase())));
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        out.push_str(&format!("{}\n", text(&about.to_string())));
    }
    let man = clap_mangen::Man::new(sub.clone());
    let synopsis = render(&man, |m, w| m.render_synopsis_section(w));
    out.push_str(&synopsis.replace(".SH SYNOPSIS", ".SS Synopsis"));
    let options = render(&man, |m, w| m.render_options_section(w));
    out.push_str(&options.replace(".SH OPTIONS", ".SS Options"));
    if let Some(after) = sub.get_after_help() {
        out.push_str(".SS Notes\n");
        verbatim(out, &after.to_string());
    }
}

/// Every key of the terminal UI, from the table its keyboard handler reads.
fn keys_section(out: &mut String) {
    out.push_str(
        ".SH KEYS\nIn the terminal UI (press ? there for the same list). \
        Keys can be changed in the config file's [keys] table.\n",
    );
    let mut last = None;
    for (keys, help, section) in help_lines(&KeyMap::default()) {
        if last != Some(section) {
            let title = section.map_or("Also", |s| s.title());
            out.push_str(&format!(".SS {}\n", text(title)));
            last = Some(section);
        }
        terms(out, &[(&keys, &help)]);
    }
}

fn files_section(out: &mut String) {
    out.push_str(".SH FILES\n");
    terms(
        out,
        &[
            (
                "~/.config/dlm/config.toml",
                "Settings (you write it; see config.example.toml). --config FILE or $DLM_CONFIG name another.",
            ),
            (
                "~/.local/share/dlm/queue.json, queue.journal",
                "The terminal UI's saved queue: a snapshot and the changes since, one JSON line each. In $DLM_STATE_DIR when set.",
            ),
            (
                "~/.local/share/dlm/dlm.lock",
                "One dlm per queue: an flock(2) lock, released however dlm ends.",
            ),
            (
                "$XDG_RUNTIME_DIR/dlm/dlm.sock",
                "The control socket dlm add and dlm ls talk to (owner-only). In $DLM_RUNTIME_DIR when set; with only $DLM_STATE_DIR set, in that folder.",
            ),
            (
                "NAME.part, NAME.part.dlm",
                "A download in progress and its sidecar (the ranges still missing), next to the final file; renamed to NAME once complete.",
            ),
        ],
    );
    out.push_str("On macOS the state folder is ~/Library/Application Support/dlm/.\n");
    out.push_str(".SH ENVIRONMENT\n");
    terms(
        out,
        &[
            ("DLM_CONFIG", "The config file to read instead of the platform's."),
            (
                "DLM_STATE_DIR",
                "The folder of the saved queue and its lock; run two independent dlms by giving one its own.",
            ),
            ("DLM_RUNTIME_DIR", "The folder of the control socket."),
            ("NETRC", "The .netrc file to read logins from (default ~/.netrc)."),
            ("HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY", "Proxies, when --proxy is not given."),
            ("NO_COLOR", "When set and not empty, the terminal UI draws without colours."),
        ],
    );
    out.push_str(".SH \"EXIT STATUS\"\n");
    terms(
        out,
        &[
            ("0", "Every download succeeded (dlm get), or the command did what it was asked."),
            ("1", "Some download failed, or some URL was refused."),
            ("2", "Bad usage: an unknown option, no URLs, an unreadable list or config file."),
            ("130", "Interrupted with Ctrl-C; partial downloads stay as .part files."),
        ],
    );
}
