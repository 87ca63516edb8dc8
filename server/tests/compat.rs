//! Compatibility test: the real server driven by python-socketio, an
//! independent Socket.IO client implementation (`tests/compat/compat_client.py`).
//!
//! Fails (does not skip) when python-socketio is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use arena_server::Config;

const INSTALL: &str = "python-socketio is required for this test: \
                       pip install \"python-socketio[client]\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_client_goes_through_create_join_signal_relay_leave() {
    // scripts/test.sh installs python-socketio into a venv and names its python here.
    let python = std::env::var("ARENA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = tokio::process::Command::new(&python)
        .args(["-c", "import socketio, websocket"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {python} ({e}); {INSTALL}"));
    assert!(
        probe.status.success(),
        "{INSTALL}\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(arena_server::run(listener, Config::default(), async move {
        let _ = rx.await;
    }));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/compat_client.py");
    let run = tokio::process::Command::new(&python)
        .arg(script)
        .arg(&url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("compat client timed out")
        .expect("cannot start the compat client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("COMPAT OK"),
        "compat client failed ({}):\n{stdout}\n{stderr}",
        out.status
    );

    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
