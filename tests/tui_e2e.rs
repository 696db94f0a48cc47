//! End to end: the real `dlm` binary in a real pseudo-terminal (portable-pty), its screen read
//! back through a terminal emulator (vt100), against the loopback test server. It pastes two
//! URLs with bracketed-paste escapes, waits on screen conditions with deadlines (never fixed
//! sleeps), raises the worker cap, quits, and checks the files on disk; and it `kill -9`s a
//! download midway and checks the next start continues it. Needs nothing installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Frames drawn so far: ratatui ends every frame by hiding the cursor.
    frames: Arc<AtomicUsize>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn frames(&self) -> usize {
        self.frames.load(Ordering::SeqCst)
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
    let state = tempfile::tempdir().unwrap();
    let (size_a, size_b) = (300_000, 1_000_000);
    let url_a = server.url(&format!("/f/alpha.bin?size={size_a}"));
    let url_b = server.url(&format!("/f/beta.bin?size={size_b}&throttle=4000000"));

    // A key override from the config file reaches the UI: `]` also raises the cap.
    std::fs::write(state.path().join("config.toml"), "[keys]\nworkers_up = \"+ ]\"\n").unwrap();
    // NO_COLOR on: the screen must read without colour (symbols, the selection marker).
    let (mut child, screen, mut writer, reader_thread, master) =
        spawn_dlm(state.path(), &["-o", dir.path().to_str().unwrap(), "-j", "2"], &[("NO_COLOR", "1")]);
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

    // A left click on the second table row (line 8 under the four-line header; SGR mouse
    // report, 1-based column;row), then the wheel back up: the selection marker follows.
    let selected = |s: &str, name: &str| s.lines().any(|l| l.starts_with('▶') && l.contains(name));
    assert!(selected(&done, "alpha.bin"), "{done}");
    send(b"\x1b[<0;20;8M\x1b[<0;20;8m");
    screen.wait_for("a click to select beta", |s| selected(s, "beta.bin")).await;
    send(b"\x1b[<64;20;8M");
    screen.wait_for("the wheel to move up", |s| selected(s, "alpha.bin")).await;

    send(b"+");
    screen.wait_for("the cap to rise in the header", |s| header(s).contains("workers 0/3")).await;
    send(b"]");
    screen.wait_for("the cap to rise again", |s| header(s).contains("workers 0/4")).await;

    send(b"q");
    let status = wait_exit(&mut child, &screen).await;
    assert!(status.success(), "{status:?}");
    drop(master);
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

/// A running dlm: the process, its screen, its keyboard, the thread that returns everything
/// it wrote once it exits, and the pty master (dropped to end that thread).
type Running = (
    Box<dyn portable_pty::Child + Send + Sync>,
    Screen,
    Box<dyn Write + Send>,
    std::thread::JoinHandle<Vec<u8>>,
    Box<dyn portable_pty::MasterPty + Send>,
);

/// Each run gets its own saved-queue folder and control socket under `state`, so tests never
/// see each other's queue or the person's.
fn spawn_dlm(state: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Running {
    spawn_dlm_in(None, state, args, envs)
}

/// `spawn_dlm` started in the folder `cwd` (the shell's folder), when given.
fn spawn_dlm_in(
    cwd: Option<&std::path::Path>,
    state: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Running {
    let pty = native_pty_system()
        .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_dlm"));
    cmd.args(args);
    if let Some(cwd) = cwd {
        cmd.cwd(cwd);
    }
    cmd.env("TERM", "xterm-256color");
    cmd.env("DLM_STATE_DIR", state);
    cmd.env("DLM_RUNTIME_DIR", state);
    let config = state.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    cmd.env("DLM_CONFIG", config);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let parser =
        Arc::new(Mutex::new(vt100::Parser::new(ROWS.try_into().unwrap(), COLS.try_into().unwrap(), 0)));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let feed = Arc::clone(&parser);
    let frames = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&frames);
    let thread = std::thread::spawn(move || {
        const HIDE: &[u8] = b"\x1b[?25l";
        let mut buf = [0u8; 8192];
        let mut all = Vec::new();
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            // Count in what is new, including a sequence split across two reads.
            let from = all.len().saturating_sub(HIDE.len() - 1);
            all.extend_from_slice(&buf[..n]);
            let hides = all[from..].windows(HIDE.len()).filter(|w| *w == HIDE).count();
            counted.fetch_add(hides, Ordering::SeqCst);
            feed.lock().unwrap().process(&buf[..n]);
        }
        all
    });
    let writer = pty.master.take_writer().unwrap();
    (child, Screen { parser, frames }, writer, thread, pty.master)
}

async fn wait_exit(
    child: &mut Box<dyn portable_pty::Child + Send + Sync>,
    screen: &Screen,
) -> portable_pty::ExitStatus {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "dlm did not exit; screen:\n{}", screen.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(debug_assertions)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_tokio_task_restores_the_terminal_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let (mut child, screen, _writer, reader, master) =
        spawn_dlm(state.path(), &["-o", dir.path().to_str().unwrap()], &[("DLM_DEBUG_PANIC_IN_TASK", "1")]);
    screen.wait_for("the UI", |s| s.contains("No downloads yet")).await;
    let status = wait_exit(&mut child, &screen).await;
    assert_eq!(status.exit_code(), 101);
    drop(master);
    let output = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let left = output.rfind("\x1b[?1049l").expect("alternate screen left");
    let message = output.find("deliberate panic in a tokio task").expect("panic message printed");
    assert!(left < message, "the message must come after the terminal is restored");
    assert!(output.contains("\x1b[?1000l"), "mouse capture not disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_while_downloading_asks_and_keeps_the_partial_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // Slow enough to still be running when q is pressed.
    let url = server.url("/f/slow.bin?size=50000000&throttle=200000");
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm(state.path(), &["-o", dir.path().to_str().unwrap(), &url], &[]);
    screen.wait_for("the download to run", |s| s.contains("↓ downloading") && s.contains("slow.bin")).await;
    // A left click on the first table row (SGR mouse report: column 10, row 9, 1-based).
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the quit question", |s| s.contains("Quit dlm?") && s.contains("1 running")).await;
    writer.write_all(b"n").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the question to close", |s| !s.contains("Quit dlm?")).await;
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the quit question again", |s| s.contains("Quit dlm?")).await;
    writer.write_all(b"y").unwrap();
    writer.flush().unwrap();
    let status = wait_exit(&mut child, &screen).await;
    assert!(status.success(), "{status:?}");
    drop(master);
    let output = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(output.contains("1 unfinished (kept in the queue"), "{output}");
    assert!(dir.path().join("slow.bin.part").exists());
    assert!(!dir.path().join("slow.bin").exists());
}

/// Issue 4: `kill -9` mid-download loses neither the queue nor the bytes on disk. The real
/// binary downloads a throttled file, is killed with SIGKILL, and starts again on the same
/// state folder with no URL given: the item comes back from the saved queue and continues
/// from its `.part` with validated range requests, and the file is byte-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_download_then_restart_continues_from_the_part_file() {
    kill_9_round_trip(1).await;
}

/// The same with four connections: the `.part` is preallocated and the sidecar says which
/// ranges are missing; the next start fetches only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_segmented_download_then_restart_fetches_only_missing_ranges() {
    kill_9_round_trip(4).await;
}

/// Bytes on disk for a download and the ranges `[start, end)` still missing: from the sidecar
/// of a segmented (preallocated) `.part`, else the `.part`'s length.
fn progress(part: &std::path::Path, size: u64) -> (u64, Vec<(u64, u64)>) {
    let mut sidecar = part.as_os_str().to_owned();
    sidecar.push(".dlm");
    let missing = std::fs::read(&sidecar)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| serde_json::from_value::<Vec<(u64, u64)>>(v.get("missing")?.clone()).ok());
    let missing = missing.unwrap_or_else(|| {
        let len = std::fs::metadata(part).map_or(0, |m| m.len());
        vec![(len, size)]
    });
    let gone: u64 = missing.iter().map(|(a, b)| b - a).sum();
    (size - gone.min(size), missing)
}

/// `(start, end)` (end exclusive) a logged request asked for.
fn asked(r: &support::Logged, size: u64) -> (u64, u64) {
    let range = r.range.as_deref().unwrap_or_else(|| panic!("a request without Range: {r:?}"));
    let (a, b) = range.strip_prefix("bytes=").and_then(|r| r.split_once('-')).unwrap();
    (a.parse().unwrap(), b.parse::<u64>().map_or(size, |e| e + 1))
}

async fn kill_9_round_trip(connections: usize) {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // About 1 MB a second for one connection, 0.6 MB for several: long enough to kill it in
    // the middle, short enough for a test. A segmented download's sidecar (what this test reads
    // for its progress) is saved once a second and lags what has arrived, so that run is given
    // a larger, slower file to still be mid-way when the sidecar shows another megabyte.
    let (size, total_rate): (u64, usize) =
        if connections > 1 { (6_000_000, 600_000) } else { (4_000_000, 1_000_000) };
    let throttle = total_rate / connections;
    let url = server.url(&format!("/f/big.bin?size={size}&throttle={throttle}"));
    let out = dir.path().to_str().unwrap();
    let x = connections.to_string();
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm(state.path(), &["-o", out, "-x", &x, &url], &[]);
    let part = dir.path().join("big.bin.part");
    let store = dlm::state::StateStore::at(state.path());
    let saved_queue = || -> dlm::state::SavedQueue { store.load().map(|l| l.queue).unwrap_or_default() };

    screen.wait_for("the download to run", |s| s.contains("↓ downloading") && s.contains("big.bin")).await;
    // Give the item its own rate limit (above the server's rate, so it changes no timing): it
    // must survive the kill too.
    writer.write_all(b"L").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the item's limit box", |s| s.contains("Rate limit: big.bin")).await;
    writer.write_all(b"8M\r").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the limit marked in the table", |s| s.contains("big.bin ≤8M")).await;
    let own = Some(dlm::state::LimitsRecord { rate_limit: Some(8 << 20), connections });
    support::wait_until("the item's limit in the saved queue", DEADLINE, || {
        saved_queue().items.values().next().is_some_and(|i| i.limits == own)
    })
    .await;
    support::wait_until("a quarter of the file on disk", DEADLINE, || progress(&part, size).0 >= size / 4)
        .await;
    // What was on disk well before the kill: another megabyte must arrive first, which at the
    // server's rate is about a second.
    let earlier = progress(&part, size).0;
    support::wait_until("another megabyte on disk", DEADLINE, || {
        progress(&part, size).0 >= earlier + 1_000_000
    })
    .await;
    let (at_kill, missing) = progress(&part, size);
    let pid = child.process_id().expect("dlm has a pid");
    // Literally `kill -9`, on the pid of the child this test started and has not reaped.
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child, &screen).await;
    assert!(!status.success(), "{status:?}");
    drop(master);
    reader.join().unwrap();
    assert!(progress(&part, size).0 >= at_kill, "bytes on disk were lost");
    assert!(!dir.path().join("big.bin").exists(), "the download cannot have finished yet");
    // The queue was on disk before the kill: the item, its name and its validator.
    let saved = saved_queue();
    assert_eq!(saved.items.len(), 1, "{saved:?}");
    let item = saved.items.values().next().unwrap();
    assert!(item.state.is_running(), "{item:?}");
    assert_eq!(item.name.as_deref(), Some("big.bin"), "{item:?}");
    assert_eq!(item.validator.as_deref(), Some("\"big.bin-v0\""), "{item:?}");
    let first_run = server.requests_for("/f/big.bin").len();

    // Start again with no URL and no -x: the saved queue brings the item back with its own
    // limit and connections, and it completes.
    let (mut child, screen, mut writer, reader, master) = spawn_dlm(state.path(), &["-o", out], &[]);
    // The default is auto now, so an item given a fixed count (even 1) shows it.
    let badge = format!("big.bin ×{connections} ≤8M");
    screen.wait_for("the restored item with its limits", |s| s.contains(&badge)).await;
    // The global rate limit is live from the keyboard too: l, a value, Enter.
    writer.write_all(b"l").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the limit box", |s| s.contains("Rate limit: all downloads")).await;
    writer.write_all(b"64M\r").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the limit in the header", |s| header(s).contains("(limit 64.0 MiB/s)")).await;
    screen.wait_for("the download to finish", |s| s.contains("✓ done") && s.contains("big.bin")).await;
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    let status = wait_exit(&mut child, &screen).await;
    assert!(status.success(), "{status:?}");
    drop(master);
    reader.join().unwrap();
    assert_file(&dir.path().join("big.bin"), &content("big.bin", size as usize));

    // The second run asked only for bytes that were missing when dlm was killed (so not even
    // the last second on disk was fetched again), each request guarded by the validator.
    let requests = server.requests_for("/f/big.bin");
    let second: Vec<_> = requests[first_run..].iter().collect();
    assert!(!second.is_empty(), "the restarted dlm made no request");
    let mut fetched = 0;
    for r in &second {
        let (start, end) = asked(r, size);
        assert_eq!(r.if_range.as_deref(), Some("\"big.bin-v0\""), "{r:?}");
        let Some(&(_, gap_end)) = missing.iter().find(|&&(a, b)| a <= start && start < b) else {
            panic!("asked for {start}.. which was on disk at the kill (missing then: {missing:?})")
        };
        if connections == 1 {
            assert!(start >= at_kill && start > earlier, "resumed at {start}; {at_kill} were on disk");
        }
        // The first request of a download is open-ended; the engine reads it only up to the
        // end of the gap it fills (the server does not log bytes sent, so this is the ask).
        fetched += end.min(gap_end) - start;
    }
    assert!(fetched <= size - earlier, "fetched {fetched} bytes again; {earlier} were on disk well before");
    eprintln!(
        "-x {connections}: kill -9 with {at_kill} of {size} bytes on disk ({earlier} a megabyte \
         earlier, {} in the saved queue); second run asked for {fetched} bytes: {:?}",
        item.bytes,
        second.iter().map(|r| r.range.clone()).collect::<Vec<_>>()
    );
}

/// Issue 9: the saved queue stored the download folder as `.`, so starting dlm from another
/// folder downloaded every unfinished item again from zero there. Here dlm runs with no `-o`
/// in one folder, a four-connection download is paused a quarter of the way and dlm quits;
/// started again from another folder, the item is shown with its name, size and the bytes its
/// sidecar says are on disk (not the preallocated length), and resuming finishes it in the
/// first folder from its `.part`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_another_folder_continues_in_the_first_and_shows_the_restored_figures() {
    let server = TestServer::start().await;
    let state = tempfile::tempdir().unwrap();
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let size: u64 = 4_000_000;
    let url = server.url(&format!("/f/moved.bin?size={size}&throttle=250000"));
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm_in(Some(first.path()), state.path(), &["-x", "4", &url], &[]);
    let send = |w: &mut Box<dyn Write + Send>, bytes: &[u8]| {
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    };
    screen.wait_for("the download to run", |s| s.contains("↓ downloading") && s.contains("moved.bin")).await;
    let part = first.path().join("moved.bin.part");
    support::wait_until("a quarter on disk", DEADLINE, || progress(&part, size).0 >= size / 4).await;
    send(&mut writer, b"p");
    screen.wait_for("the pause", |s| s.contains("‖ paused")).await;
    send(&mut writer, b"q");
    assert!(wait_exit(&mut child, &screen).await.success());
    drop(master);
    reader.join().unwrap();
    let (on_disk, missing) = progress(&part, size);
    assert!(!missing.is_empty() && on_disk < size, "paused before the end: {missing:?}");
    let queue = dlm::state::StateStore::at(state.path()).load().unwrap().queue;
    let first_dir = std::fs::canonicalize(first.path()).unwrap();
    let item = queue.items.values().next().unwrap();
    assert_eq!(item.dir.as_deref(), Some(first_dir.as_path()), "saved absolute: {queue:?}");

    let before = server.requests_for("/f/moved.bin").len();
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm_in(Some(second.path()), state.path(), &[], &[]);
    let header = format!("{} of {}", dlm::format::bytes(on_disk), dlm::format::bytes(size));
    let restored = screen
        .wait_for("the restored item with its figures", |s| s.contains("moved.bin") && s.contains("‖ paused"))
        .await;
    assert!(
        restored.contains(&header) && !restored.contains(&format!("{header}+")),
        "want {header}:\n{restored}"
    );
    assert!(restored.contains(&dlm::format::bytes(size)), "the size column:\n{restored}");
    send(&mut writer, b"p");
    screen.wait_for("the download to finish", |s| s.contains("✓ done") && s.contains("moved.bin")).await;
    send(&mut writer, b"q");
    assert!(wait_exit(&mut child, &screen).await.success());
    drop(master);
    reader.join().unwrap();
    assert_file(&first.path().join("moved.bin"), &content("moved.bin", size as usize));
    assert!(std::fs::read_dir(second.path()).unwrap().next().is_none(), "nothing lands in the second folder");
    // The second run continued: every request asked for a range that was missing.
    for r in &server.requests_for("/f/moved.bin")[before..] {
        let (start, _) = asked(r, size);
        assert!(missing.iter().any(|&(a, b)| a <= start && start < b), "{start} was on disk: {missing:?}");
    }
}

/// Issue 9: moving the mouse over an idle UI redrew it about 60 times a second. A frame always
/// ends by hiding the cursor (`ESC [?25l`), so counting those counts frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mouse_motion_does_not_redraw_an_idle_screen() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm(state.path(), &["-o", dir.path().to_str().unwrap()], &[]);
    screen.wait_for("the UI", |s| s.contains("No downloads yet")).await;
    let frames_before = screen.frames();
    // 200 SGR motion reports (button 35: no button held, pointer moved), as a terminal sends
    // them while the pointer crosses the window, 5 ms apart.
    for i in 0..200u16 {
        writer.write_all(format!("\x1b[<35;{};{}M", 1 + i % 80, 1 + i % 20).as_bytes()).unwrap();
        writer.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A key that does redraw, so the count is read after every motion report was handled.
    writer.write_all(b"?").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the help", |s| s.contains("Esc closes")).await;
    let frames = screen.frames() - frames_before;
    writer.write_all(b"\x1b").unwrap();
    writer.flush().unwrap();
    screen.wait_for("the help to close", |s| !s.contains("Esc closes")).await;
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    assert!(wait_exit(&mut child, &screen).await.success());
    drop(master);
    reader.join().unwrap();
    // The help key's frame (and at most one more); it was about one frame per 16 ms of motion.
    assert!(frames <= 3, "{frames} frames drawn for 200 motion reports and one key");
}

/// Issue 16: after a restart a finished item whose file was deleted meanwhile says "missing",
/// one whose file is there says "done" (not "had it"); and the header says where files go as
/// an absolute path, though dlm was started without `-o` (the download folder is ".").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_finished_item_whose_file_is_gone_says_missing() {
    let server = TestServer::start().await;
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keep = server.url("/f/keep.bin?size=1000");
    let gone = server.url("/f/gone.bin?size=1000");
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm_in(Some(dir.path()), state.path(), &[&keep, &gone], &[]);
    let send = |w: &mut Box<dyn Write + Send>, bytes: &[u8]| {
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    };
    let first = screen.wait_for("both downloads to finish", |s| s.matches("✓ done").count() == 2).await;
    let shown_dir = std::fs::canonicalize(dir.path()).unwrap().display().to_string();
    assert!(first.contains(&format!("saving to {shown_dir}")), "an absolute folder:\n{first}");
    send(&mut writer, b"q");
    assert!(wait_exit(&mut child, &screen).await.success());
    drop(master);
    reader.join().unwrap();
    std::fs::remove_file(dir.path().join("gone.bin")).unwrap();

    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm_in(Some(dir.path()), state.path(), &[], &[]);
    let restored = screen
        .wait_for("the restored items", |s| {
            s.contains("keep.bin") && s.contains("gone.bin") && s.contains("missing")
        })
        .await;
    let line = |name: &str| restored.lines().find(|l| l.contains(name)).unwrap_or_default().to_string();
    assert!(line("gone.bin").contains("? missing"), "{restored}");
    assert!(line("keep.bin").contains("✓ done"), "{restored}");
    send(&mut writer, b"q");
    assert!(wait_exit(&mut child, &screen).await.success());
    drop(master);
    reader.join().unwrap();
}

/// Issue 16: `y` writes the row's URL to the terminal as OSC 52 (wrapped for tmux when `TMUX`
/// is set), and `o`/`O` hand the file and its folder to the system opener, detached. The
/// opener here is a script on the PATH that records what it was asked to open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn y_copies_the_url_with_osc_52_and_o_opens_the_file_and_its_folder() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened.txt");
    let opener = bin.path().join("xdg-open");
    std::fs::write(&opener, format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display())).unwrap();
    std::fs::set_permissions(&opener, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let url = server.url("/f/copied.bin?size=1000");
    let envs = [
        ("PATH", bin.path().to_str().unwrap()),
        ("DISPLAY", ":0"),
        ("SSH_CONNECTION", ""),
        ("TMUX", "/tmp/tmux-1/default,1,0"),
    ];
    let (mut child, screen, mut writer, reader, master) =
        spawn_dlm(state.path(), &["-o", dir.path().to_str().unwrap(), &url], &envs);
    let mut send = |bytes: &[u8]| {
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    };
    screen.wait_for("the download to finish", |s| s.contains("✓ done")).await;
    send(b"y");
    screen.wait_for("the copy message", |s| s.contains("copied the URL")).await;
    let folder = dir.path().canonicalize().unwrap();
    let file = folder.join("copied.bin");
    // One at a time: the two openers would race to append.
    send(b"o");
    wait_for_file(&opened, &format!("{}\n", file.display())).await;
    send(b"O");
    wait_for_file(&opened, &format!("{}\n{}\n", file.display(), folder.display())).await;
    send(b"q");
    assert!(wait_exit(&mut child, &screen).await.success());
    drop(master);
    let output = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let expected = dlm::tui::system::osc52(&url, true);
    assert!(expected.starts_with("\x1bPtmux;\x1b\x1b]52;c;"), "{expected:?}");
    assert!(output.contains(&expected), "no OSC 52 with the URL on the pty");
}

/// Waits until the file at `path` holds exactly `want`.
async fn wait_for_file(path: &std::path::Path, want: &str) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{} holds {got:?}, want {want:?}", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Issue 16: under a low global rate limit, `P` pauses both transfers quickly (the time is
/// printed), and `P` then `R` sent in one write ends with both running: the last key wins,
/// and the `.part` files keep growing afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_rate_limit_shift_p_then_shift_r_ends_with_everything_running() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let url_a = server.url("/f/one.bin?size=50000000");
    let url_b = server.url("/f/two.bin?size=50000000");
    let out = dir.path().to_str().unwrap();
    let (mut child, screen, mut writer, _reader, _master) =
        spawn_dlm(state.path(), &["-o", out, "--limit-rate", "64K", &url_a, &url_b], &[]);
    let mut send = |bytes: &[u8]| {
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    };
    // Running is downloading or connecting: the connection autopilot restarts a stream from
    // its `.part` with more connections a second or so in, which shows as connecting.
    let running = |s: &str| s.matches("↓ downloading").count() + s.matches("⇄ connecting").count() == 2;
    screen.wait_for("both to run", running).await;

    let asked = std::time::Instant::now();
    send(b"P");
    screen.wait_for("both to pause", |s| s.matches("‖ paused").count() == 2).await;
    eprintln!("P to both shown paused under a 64 KiB/s limit: {:?}", asked.elapsed());
    send(b"R");
    screen.wait_for("both to run again", running).await;

    send(b"PR");
    screen.wait_for("both running, nothing pausing", |s| running(s) && !s.contains("‖ paus")).await;
    let part = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len());
    let before = (part("one.bin.part"), part("two.bin.part"));
    let deadline = std::time::Instant::now() + DEADLINE;
    while part("one.bin.part") < before.0 + 32_768 || part("two.bin.part") < before.1 + 32_768 {
        assert!(
            std::time::Instant::now() < deadline,
            "the .part files stopped growing after P R; screen:\n{}",
            screen.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = screen.text();
    assert!(running(&text) && !text.contains("‖ paus"), "{text}");
    child.kill().unwrap();
}

/// A browser's "Copy as cURL", pasted into the add box (`a`): the preview names the URL and
/// counts what it brings, never a value (the box itself shows what was pasted, as typed); Enter adds it as one item that sends the command's
/// header and cookie (the server refuses without them); `-k` is said to be ignored; and no
/// secret reaches the saved queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_add_box_takes_a_pasted_curl_command() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // Told to the server percent-encoded, so the URL (listed and saved) does not hold them.
    let hidden = |text: &str| text.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let url = server.url(&format!(
        "/f/curl.bin?size=3000&need_header={}&cookie={}",
        hidden("X-Token:tok-secret"),
        hidden("sid=cookie-secret")
    ));
    let (mut child, screen, mut writer, reader_thread, master) =
        spawn_dlm(state.path(), &["-o", dir.path().to_str().unwrap()], &[("NO_COLOR", "1")]);
    let mut send = |bytes: &[u8]| {
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    };
    screen.wait_for("the empty screen", |s| s.contains("No downloads yet")).await;
    send(b"a");
    screen.wait_for("the add box", |s| s.contains("Add downloads")).await;
    // As a browser copies it on Linux: one option a line, with `\` continuations.
    send(
        format!("\x1b[200~curl '{url}' \\\r  -H 'X-Token: tok-secret' \\\r  -b 'sid=cookie-secret' \\\r  -k\x1b[201~")
            .as_bytes(),
    );
    let preview = screen.wait_for("the preview", |s| s.contains("headers: 1, cookies: 1")).await;
    assert!(preview.contains("curl command: headers: 1, cookies: 1 · http://127.0.0.1"), "{preview}");
    send(b"\r");
    let done = screen.wait_for("the download to finish", |s| s.contains("✓ done")).await;
    assert!(done.contains("curl.bin"), "{done}");
    assert!(done.contains("-k (--insecure) was ignored") || done.contains("from the curl command"), "{done}");
    assert!(!done.contains("tok-secret") && !done.contains("cookie-secret"), "{done}");
    assert_file(&dir.path().join("curl.bin"), &content("curl.bin", 3000));
    let asked = &server.requests_for("/f/curl.bin")[0];
    assert_eq!(asked.headers.get("x-token").and_then(|v| v.to_str().ok()), Some("tok-secret"));

    send(b"q");
    let status = wait_exit(&mut child, &screen).await;
    assert!(status.success(), "{status:?}");
    drop(master);
    reader_thread.join().unwrap();
    for entry in std::fs::read_dir(state.path()).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(text) = std::fs::read_to_string(&path) {
            assert!(
                !text.contains("tok-secret") && !text.contains("cookie-secret"),
                "{}: {text}",
                path.display()
            );
        }
    }
}
