//! The browser build at `/play`, from the real server on 127.0.0.1:0: a
//! temporary directory of fixture files stands in for `scripts/web.sh`'s
//! output. Content types, caching, the page without a build, path
//! traversal, and the same-origin websocket of a page served here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use arena_server::Config;
use common::{http_get, raw, start};

const INDEX: &str = "<!doctype html><title>arena</title><script src=\"mq_js_bundle.js\"></script>";
const WASM: &str = "\0asm\u{1}\0\0\0";
const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-BUILD";

/// A fresh directory under the system's temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("arena-web-{name}-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `scratch/web` holding a build; `scratch/secret.txt` next to it, and
/// (Unix) `web/escape.txt`, a symlink to that secret.
fn build(scratch: &Scratch) -> PathBuf {
    let web = scratch.0.join("web");
    std::fs::create_dir_all(web.join("sub")).unwrap();
    std::fs::write(web.join("index.html"), INDEX).unwrap();
    std::fs::write(web.join("mq_js_bundle.js"), "load(\"arena.wasm\");").unwrap();
    std::fs::write(web.join("arena.wasm"), WASM).unwrap();
    std::fs::write(web.join("sub").join("plugin.js"), "// plugin").unwrap();
    std::fs::write(scratch.0.join("secret.txt"), SECRET).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(scratch.0.join("secret.txt"), web.join("escape.txt")).unwrap();
    web
}

fn config(web_root: Option<&Path>) -> Config {
    Config {
        web_root: web_root.map(Path::to_path_buf),
        ..Config::default()
    }
}

/// A header's value in a raw HTTP answer (names compared case-insensitively).
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn play_serves_the_build_with_its_content_types() {
    let scratch = Scratch::new("serve");
    let web = build(&scratch);
    let srv = start(config(Some(&web))).await;

    // `/play` → `/play/`, so the page's relative URLs resolve under it.
    let (status, answer) = http_get(srv.addr, "/play", &[]).await;
    assert_eq!(status, 308, "{answer}");
    assert_eq!(header(&answer, "location"), Some("/play/"));

    for (path, ctype, content) in [
        ("/play/", "text/html; charset=utf-8", INDEX),
        ("/play/index.html", "text/html; charset=utf-8", INDEX),
        ("/play/arena.wasm", "application/wasm", WASM),
        (
            "/play/mq_js_bundle.js",
            "text/javascript",
            "load(\"arena.wasm\");",
        ),
        ("/play/sub/plugin.js", "text/javascript", "// plugin"),
    ] {
        let (status, answer) = http_get(srv.addr, path, &[]).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(header(&answer, "content-type"), Some(ctype), "{path}");
        assert_eq!(header(&answer, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(body(&answer), content, "{path}");
    }

    // Revalidation: the same ETag → 304 without a body; a new build → 200.
    let (_, answer) = http_get(srv.addr, "/play/arena.wasm", &[]).await;
    let tag = header(&answer, "etag").expect("an ETag").to_owned();
    let (status, answer) = http_get(srv.addr, "/play/arena.wasm", &[("If-None-Match", &tag)]).await;
    assert_eq!(status, 304, "{answer}");
    assert_eq!(body(&answer), "");
    std::fs::write(web.join("arena.wasm"), "\0asm\u{1}\0\0\0 rebuilt").unwrap();
    let (status, answer) = http_get(srv.addr, "/play/arena.wasm", &[("If-None-Match", &tag)]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(body(&answer).ends_with("rebuilt"));

    let (status, _) = http_get(srv.addr, "/play/missing.js", &[]).await;
    assert_eq!(status, 404);
    let (status, _) = http_get(srv.addr, "/play/sub", &[]).await;
    assert_eq!(status, 404, "a directory is not a file");
    // The rest of the server is untouched.
    assert_eq!(srv.get("/healthz").await, "ok");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn no_path_leaves_the_build_directory() {
    let scratch = Scratch::new("traversal");
    let web = build(&scratch);
    let srv = start(config(Some(&web))).await;
    let absolute = format!("/play/{}", scratch.0.join("secret.txt").display());
    let mut attempts = vec![
        "/play/../secret.txt".to_owned(),
        "/play/sub/../../secret.txt".to_owned(),
        "/play/%2e%2e/secret.txt".to_owned(),
        "/play/%2E%2E/secret.txt".to_owned(),
        "/play/..%2fsecret.txt".to_owned(),
        "/play/%2e%2e%2fsecret.txt".to_owned(),
        "/play/sub/%2e%2e%2f%2e%2e%2fsecret.txt".to_owned(),
        "/play/..%5csecret.txt".to_owned(),
        "/play/%252e%252e/secret.txt".to_owned(),
        "/play/.%2e/secret.txt".to_owned(),
        "/play/%2fetc%2fpasswd".to_owned(),
        "/play//etc/passwd".to_owned(),
        "/play/../../../../../../etc/passwd".to_owned(),
        "/play/%c0%ae%c0%ae/secret.txt".to_owned(),
        absolute.clone(),
        absolute
            .replace('/', "%2f")
            .replacen("%2fplay%2f", "/play/", 1),
    ];
    if cfg!(unix) {
        attempts.push("/play/escape.txt".to_owned());
    }
    for path in &attempts {
        let (status, answer) = http_get(srv.addr, path, &[]).await;
        assert!(
            (400..500).contains(&status),
            "{path} answered {status}: {answer}"
        );
        assert!(!answer.contains(SECRET), "{path} leaked the secret");
        assert!(!answer.contains("root:"), "{path} leaked /etc/passwd");
    }
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_build_play_says_how_to_make_one() {
    let scratch = Scratch::new("missing");
    // No directory configured, and a directory without a build yet.
    for root in [None, Some(scratch.0.as_path())] {
        let srv = start(config(root)).await;
        for path in ["/play/", "/play/index.html", "/play/arena.wasm"] {
            let (status, answer) = http_get(srv.addr, path, &[]).await;
            assert_eq!(status, 404, "{root:?} {path}: {answer}");
            assert_eq!(
                header(&answer, "content-type"),
                Some("text/html; charset=utf-8")
            );
            assert!(body(&answer).contains("not installed"), "{answer}");
            assert!(body(&answer).contains("scripts/web.sh"), "{answer}");
        }
        srv.stop().await.unwrap();
    }
    // A build made while the server runs is served at once.
    let srv = start(config(Some(&scratch.0))).await;
    std::fs::write(scratch.0.join("index.html"), INDEX).unwrap();
    let (status, answer) = http_get(srv.addr, "/play/", &[]).await;
    assert_eq!((status, body(&answer)), (200, INDEX));
    srv.stop().await.unwrap();
}

/// The page at `http://HOST:PORT/play` connects to
/// `ws://HOST:PORT/socket.io/`: its `Origin` is the server's own, which an
/// allowlist of other origins must not refuse. A page elsewhere still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_served_here_connects_from_its_own_origin() {
    use tokio_tungstenite::tungstenite::Error;
    let scratch = Scratch::new("origin");
    let web = build(&scratch);
    let srv = start(Config {
        cors_origins: vec!["https://good.example".into()],
        ..config(Some(&web))
    })
    .await;
    let own = format!("http://{}", srv.addr);
    let mut page = raw::try_connect(srv.addr, &[("origin", &own)])
        .await
        .expect("the same-origin websocket is accepted");
    assert_eq!(page.create_room().await.len(), 8);
    // Behind a TLS proxy the page is https on the same host.
    let tls = format!("https://{}", srv.addr);
    assert!(
        raw::try_connect(srv.addr, &[("origin", &tls)])
            .await
            .is_ok()
    );
    // Same host, another port; another host; not a web origin.
    let other_port = format!("http://{}:1", srv.addr.ip());
    for origin in [other_port.as_str(), "http://evil.example", "null"] {
        match raw::try_connect(srv.addr, &[("origin", origin)]).await {
            Err(Error::Http(r)) => assert_eq!(r.status(), 403, "{origin}"),
            Err(e) => panic!("{origin}: unexpected error {e}"),
            Ok(_) => panic!("{origin}: a foreign origin was accepted"),
        }
    }
    // Polling from the page (http_get sends `Host: test`).
    let polling = "/socket.io/?EIO=4&transport=polling";
    let (status, _) = http_get(srv.addr, polling, &[("Origin", "http://test")]).await;
    assert_eq!(status, 200);
    let (status, _) = http_get(srv.addr, polling, &[("Origin", "http://evil.example")]).await;
    assert_eq!(status, 403);
    srv.stop().await.unwrap();
}
