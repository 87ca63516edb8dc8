//! The browser build of the game at `/play`, from the same origin as the
//! Socket.IO endpoint (a page from elsewhere would need a CORS allowance, and
//! Chromium may ask for local-network access across origins).
//!
//! Owns the `/play` routes, where the build directory is looked for by
//! default ([`default_root`]), which request paths may be served, their
//! content types and caching. It reads files under the build directory only
//! (never outside it, symlinks included) and must not touch the Socket.IO
//! layer. The directory is checked on each request, so a build made while
//! the server runs is served without a restart.
//!
//! Routes: `/play` redirects to `/play/` (keeping a `#CODE` fragment: the
//! page's relative URLs then resolve under `/play/`), `/play/` answers
//! `index.html`, `/play/FILE` a file of the directory. Without a build every
//! one of them answers [`NOT_INSTALLED`] with status 404.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page `/play` answers when there is no browser build to serve.
pub const NOT_INSTALLED: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>P2P Arena: browser build not installed</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The browser build is not installed</h1>
<p>This P2P Arena server can serve the game to browsers at <code>/play</code>,
but it has no browser build to serve.</p>
<p>Whoever runs the server can build it from a checkout of the game's
repository with</p>
<pre>scripts/web.sh</pre>
<p>(it writes <code>target/web</code>, which the server and the game's
embedded server find by themselves when run from that checkout), or point
the server at a build with <code>--web-root DIR</code> (environment
<code>ARENA_WEB_ROOT</code>). A release archive carries it as the
<code>web</code> folder next to the executables.</p>
<p>Desktop players can join the room with its code as usual.</p>
</body>
</html>
"#;

/// Where the browser build is looked for when `--web-root` is not given:
/// the first of these that holds an `index.html`, else the first that
/// exists as a directory, else the checkout's (where `scripts/web.sh` will
/// write), else `None`:
/// 1. `web` next to the executable (how a release archive ships it);
/// 2. `$CARGO_TARGET_DIR/web`, when that variable is set;
/// 3. `target/web` of the checkout this server was built from (the output
///    of `scripts/web.sh`; only when that checkout is still there).
///
/// A directory without a build yet is kept: a build made later is served
/// without a restart.
pub fn default_root() -> Option<PathBuf> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("web")));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(|t| PathBuf::from(t).join("web"));
    // server/ → the repository, if this binary was built from a checkout here.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .filter(|root| root.join("Cargo.toml").is_file())
        .map(|root| root.join("target").join("web"));
    let candidates: Vec<PathBuf> = [exe, target_dir, checkout.clone()]
        .into_iter()
        .flatten()
        .collect();
    pick_root(
        &candidates,
        |p| p.join("index.html").is_file(),
        |p| p.is_dir(),
    )
    .or(checkout)
}

/// The first candidate with a build, else the first existing directory.
fn pick_root(
    candidates: &[PathBuf],
    has_build: impl Fn(&Path) -> bool,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|p| has_build(p))
        .or_else(|| candidates.iter().find(|p| exists(p)))
        .cloned()
}

/// Logs once where `/play` is served from, or that it is not.
pub fn log_root(root: Option<&Path>) {
    match root {
        Some(dir) if dir.join("index.html").is_file() => {
            tracing::info!("/play serves the browser build in {}", dir.display());
        }
        Some(dir) => tracing::info!(
            "/play: no browser build in {} yet (scripts/web.sh builds it); \
             /play says it is not installed",
            dir.display()
        ),
        None => tracing::info!(
            "/play: no browser build found (scripts/web.sh builds one, --web-root DIR \
             points at one); /play says it is not installed"
        ),
    }
}

/// The `/play` routes serving the build in `root` (`None`: no build).
pub fn router<S: Clone + Send + Sync + 'static>(root: Option<PathBuf>) -> Router<S> {
    let root = Arc::new(root);
    Router::new()
        // 308 keeps the method; the browser keeps the `#CODE` fragment.
        .route("/play", get(|| async { Redirect::permanent("/play/") }))
        .route("/play/", get(index))
        .route("/play/{*path}", get(file))
        .with_state(root)
}

async fn index(State(root): State<Arc<Option<PathBuf>>>, headers: HeaderMap) -> Response {
    serve(root.as_deref(), "index.html", &headers).await
}

async fn file(
    State(root): State<Arc<Option<PathBuf>>>,
    path: Result<UrlPath<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
) -> Response {
    match path {
        Ok(UrlPath(path)) => serve(root.as_deref(), &path, &headers).await,
        // Not UTF-8 once percent-decoded: no file of ours has such a name.
        Err(_) => not_found(),
    }
}

/// Answers `rel` (already percent-decoded) from `root`.
async fn serve(root: Option<&Path>, rel: &str, headers: &HeaderMap) -> Response {
    let Some(root) = root else {
        return not_installed();
    };
    // Without the page nothing else is worth serving either.
    if !root.join("index.html").is_file() {
        return not_installed();
    }
    let Some(rel) = safe_relative(rel) else {
        tracing::debug!(path = rel, "/play: refused path");
        return not_found();
    };
    let Some(path) = contained(root, &rel).await else {
        return not_found();
    };
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return not_found();
    };
    if !meta.is_file() {
        return not_found();
    }
    let tag = etag(&meta);
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&rel)),
    );
    // Cached, but asked about again each time: a new build shows at once.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&tag) {
        out.insert(header::ETAG, v);
    }
    if matches_etag(headers, &tag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    match tokio::fs::read(&path).await {
        Ok(body) => (StatusCode::OK, out, body).into_response(),
        Err(e) => {
            tracing::warn!("/play: cannot read {}: {e}", path.display());
            not_found()
        }
    }
}

/// `rel` as a relative path of plain names: no empty, `.`, `..` or hidden
/// (`.name`) segment, no backslash, colon or NUL (Windows separators and
/// drives), so joining it to the root cannot leave the root lexically. A
/// leading `/` (an absolute path after decoding `%2F`) is refused as an
/// empty segment.
pub fn safe_relative(rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for seg in rel.split('/') {
        if seg.is_empty() || seg.starts_with('.') || seg.contains(['\\', ':', '\0']) {
            return None;
        }
        out.push(seg);
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// `root/rel` with symlinks resolved, if it is still inside `root` (a
/// symlink in the build pointing elsewhere is not followed out).
async fn contained(root: &Path, rel: &Path) -> Option<PathBuf> {
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let path = tokio::fs::canonicalize(root.join(rel)).await.ok()?;
    path.starts_with(&root).then_some(path)
}

/// The content type of a file of the build, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("svg") => "image/svg+xml",
        Some("ogg") => "audio/ogg",
        Some("wav") => "audio/wav",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    }
}

/// A strong validator from the file's size and modification time.
fn etag(meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{:x}\"", meta.len(), modified)
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn matches_etag(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

fn not_installed() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        NOT_INSTALLED,
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert_eq!(
            safe_relative("arena.wasm"),
            Some(PathBuf::from("arena.wasm"))
        );
        assert_eq!(safe_relative("a/b.js"), Some(PathBuf::from("a/b.js")));
        for bad in [
            "",
            "..",
            "../secret",
            "a/../../secret",
            "/etc/passwd",
            "a//b",
            "./index.html",
            ".git/config",
            "..\\secret",
            "C:/Windows",
            "a\0b",
            "a/",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_build_gets_its_content_types() {
        let t = |p: &str| content_type(Path::new(p));
        assert_eq!(t("arena.wasm"), "application/wasm");
        assert_eq!(t("mq_js_bundle.js"), "text/javascript");
        assert_eq!(t("index.html"), "text/html; charset=utf-8");
        assert_eq!(t("INDEX.HTML"), "text/html; charset=utf-8");
        assert_eq!(t("blob"), "application/octet-stream");
    }

    #[test]
    fn a_built_root_wins_over_an_empty_one() {
        let c = [
            PathBuf::from("exe/web"),
            PathBuf::from("checkout/target/web"),
        ];
        let built = |p: &Path| p.starts_with("checkout");
        assert_eq!(pick_root(&c, built, |_| true), Some(c[1].clone()));
        // No build anywhere: the first existing directory, for a later build.
        assert_eq!(
            pick_root(&c, |_| false, |p| p.starts_with("checkout")),
            Some(c[1].clone())
        );
        assert_eq!(pick_root(&c, |_| false, |_| false), None);
    }

    #[test]
    fn if_none_match_revalidates() {
        let mut h = HeaderMap::new();
        assert!(!matches_etag(&h, "\"1-2\""));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"0-0\", W/\"1-2\""),
        );
        assert!(matches_etag(&h, "\"1-2\""));
        assert!(!matches_etag(&h, "\"1-3\""));
    }
}
