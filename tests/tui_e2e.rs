//! End to end: the real `dlm` binary in a real pseudo-terminal (portable-pty), its screen read
//! back through a terminal emulator (vt100), against the loopback test server. It pastes two
//! URLs with bracketed-paste escapes, waits on screen conditions with deadlines (never fixed
//! sleeps), raises the worker cap, quits, and checks the files on disk. Needs nothing installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use support::{TestServer, assert_file, content};

const ROWS: u16 = 30;
const COLS: u16 = 100;
const DEADLINE: Duration = Duration::from_secs(20);

/// The program's screen as a terminal would show it, fed by a reader thread.
struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Polls the screen until `cond` holds; on timeout, fails showing what was on screen.
    async fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let text = self.text();
            if cond(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn header(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_two_urls_watch_them_finish_raise_the_cap_and_quit() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (size_a, size_b) = (300_000, 1_000_000);
    let url_a = server.url(&format!("/f/alpha.bin?size={size_a}"));
    let url_b = server.url(&format!("/f/beta.bin?size={size_b}&throttle=4000000"));

    let pty = native_pty_system()
        .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_dlm"));
    cmd.args(["-o", dir.path().to_str().unwrap(), "-j", "2"]);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("NO_COLOR");
    cmd.cwd(dir.path());
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    // The child holds the slave; keeping ours open would stop reads from ending at exit.
    drop(pty.slave);

    let parser =
        Arc::new(Mutex::new(vt100::Parser::new(ROWS.try_into().unwrap(), COLS.try_into().unwrap(), 0)));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let feed = Arc::clone(&parser);
    let reader_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut all = Vec::new();
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            feed.lock().unwrap().process(&buf[..n]);
        }
        all
    });
    let mut writer = pty.master.take_writer().unwrap();
    let screen = Screen { parser };
    let mut send = |bytes: &[u8]| {
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    };

    screen.wait_for("the empty screen", |s| s.contains("No downloads yet")).await;
    assert!(header(&screen.text()).contains("workers 0/2"), "{}", screen.text());

    // A bracketed paste, as a terminal sends it when the person pastes two lines.
    send(format!("\x1b[200~{url_a}\r\n{url_b}\r\nnot-a-url\x1b[201~").as_bytes());
    screen
        .wait_for("the paste to be reported", |s| s.contains("added 2 URLs") && s.contains("not-a-url"))
        .await;
    let done = screen
        .wait_for("both downloads to finish", |s| s.contains("2 done") && s.matches("✓ done").count() == 2)
        .await;
    assert!(done.contains("alpha.bin") && done.contains("beta.bin"), "{done}");

    send(b"+");
    screen.wait_for("the cap to rise in the header", |s| header(s).contains("workers 0/3")).await;
    send(b"+");
    screen.wait_for("the cap to rise again", |s| header(s).contains("workers 0/4")).await;

    send(b"q");
    let deadline = std::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "dlm did not exit after q; screen:\n{}", screen.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    drop(pty.master);
    let output = reader_thread.join().unwrap();
    let output = String::from_utf8_lossy(&output);
    // The terminal was given back: alternate screen left, mouse and paste modes off.
    assert!(output.contains("\x1b[?1049l"), "alternate screen not left");
    assert!(output.contains("\x1b[?2004l"), "bracketed paste not disabled");
    assert!(output.contains("dlm: 2 done, 0 failed"), "{output}");

    assert_file(&dir.path().join("alpha.bin"), &content("alpha.bin", size_a));
    assert_file(&dir.path().join("beta.bin"), &content("beta.bin", size_b));
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alpha.bin", "beta.bin"]);
}
