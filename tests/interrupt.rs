//! Ctrl-C ends `dlm get` promptly at any moment, however long its list: the real binary,
//! a real SIGINT, 50,000 URLs. (Issue 9: Ctrl-C 50–100 ms after starting such a list left dlm
//! running for ever, its engine blocked on an event channel nobody read any more.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use support::TestServer;
use support::process::{Background, dlm_command};

/// Generous for a loaded machine; the fix makes it well under a second.
const PROMPT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_any_moment_of_a_fifty_thousand_url_list_exits_promptly() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    // Gated bodies: no download finishes, so the whole list stays in play.
    let urls: String =
        (0..50_000).map(|i| format!("{}\n", server.url(&format!("/f/u{i}.bin?size=4096&gate=1")))).collect();
    std::fs::write(&list, urls).unwrap();
    // The moments: at once (dlm may still be reading the list), as soon as the first download
    // started (the engine is still taking in the list: before the fix this one hung), and
    // well into the run.
    for (label, after_start) in [("at once", None), ("at the first start", Some(0)), ("later", Some(700))] {
        let mut cmd = dlm_command();
        cmd.args(["get", "-o"]).arg(dir.path().join(label)).arg("-i").arg(&list);
        let (status, took, err) = tokio::task::spawn_blocking(move || {
            let mut dlm = Background::spawn(cmd);
            if let Some(ms) = after_start {
                // Stderr is a pipe, so dlm logs each start.
                dlm.wait_for_line("started u", Duration::from_secs(60));
                // Choosing the moment of the Ctrl-C, not waiting for something to happen.
                std::thread::sleep(Duration::from_millis(ms));
            }
            dlm.interrupt();
            let (status, took) = dlm.wait_at_most(Duration::from_secs(30));
            (status, took, dlm.stderr.join("\n"))
        })
        .await
        .unwrap();
        // Before dlm installs its handler (the first milliseconds) SIGINT ends it the default
        // way, which a shell also reports as 130; after, dlm exits with 130 itself.
        let interrupted = status.code() == Some(130) || status.signal() == Some(2);
        assert!(interrupted, "Ctrl-C {label}: {status:?}: {err}");
        assert!(took < PROMPT, "Ctrl-C {label} took {took:?} to end dlm: {err}");
    }
}
