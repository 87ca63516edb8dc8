//! What the online screen says: room codes as people read them, network
//! mode names, failures explained with what to do, text wrapped to panels.

use crate::net::{NetMode, RoomErrorKind, Route};
use crate::ui::toast::ToastKind;

/// `ABCD-EFGH` for a code `ABCDEFGH` (other strings unchanged).
pub fn grouped(code: &str) -> String {
    arena_server::protocol::normalize_code(code)
        .map(|c| c.display_grouped())
        .unwrap_or_else(|_| code.to_owned())
}

/// Human name of a network mode.
pub fn mode_label(mode: NetMode) -> &'static str {
    match mode {
        NetMode::Hybrid => "Hybrid",
        NetMode::WebRtcOnly => "WebRTC only",
        NetMode::SignalingOnly => "Signaling only",
    }
}

pub(super) fn next_mode(mode: NetMode) -> NetMode {
    match mode {
        NetMode::Hybrid => NetMode::WebRtcOnly,
        NetMode::WebRtcOnly => NetMode::SignalingOnly,
        NetMode::SignalingOnly => NetMode::Hybrid,
    }
}

/// What a failed create/join means for the person, with what to do.
pub fn explain(kind: RoomErrorKind, message: &str, server: &str) -> String {
    match kind {
        RoomErrorKind::NotFound => {
            "No room with this code. Check it with the host: rooms close when everyone has left."
                .to_owned()
        }
        RoomErrorKind::Full => "This room is full (8 players).".to_owned(),
        RoomErrorKind::BadCode => format!("That is not a room code: {message}"),
        RoomErrorKind::RateLimited => "Too many attempts: wait a few seconds and retry.".to_owned(),
        RoomErrorKind::Unauthorized => format!(
            "This server needs a token to create rooms: set create_token in the settings \
             file, or start with --create-token (ARENA_CREATE_TOKEN). The server said: {message}"
        ),
        RoomErrorKind::BadRequest => format!("The server refused the request: {message}"),
        RoomErrorKind::Unavailable => {
            "The server cannot serve rooms right now (its database is down): retry in a few \
             seconds."
                .to_owned()
        }
        RoomErrorKind::Unreachable => format!(
            "Cannot reach the server at {server}. Is the host's game running? From another \
             machine, type the address the host's screen shows."
        ),
    }
}

/// Splits `s` into lines of at most about `width` characters at spaces.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The toast for a player's route change from `from` to `to`, if it is
/// news to the person (falling back to the relay, a direct link coming up,
/// a different direct path, unreachable).
pub fn route_news(name: &str, from: Option<Route>, to: Route) -> Option<(ToastKind, String)> {
    match (from, to) {
        (Some(f), Route::Relay) if f.is_p2p() || f == Route::Connecting => Some((
            ToastKind::Warn,
            format!("{name}: no direct link — relayed by the server"),
        )),
        (Some(Route::Relay), to) if to.is_p2p() => {
            Some((ToastKind::Good, format!("{name}: direct link up")))
        }
        (Some(f), to) if f.is_p2p() && to.is_p2p() && f != to => {
            Some((ToastKind::Info, format!("{name}: now via {to}")))
        }
        (_, Route::Unreachable) => Some((ToastKind::Bad, format!("{name} is unreachable"))),
        _ => None,
    }
}

/// How others join a room created here, under its code: `hosted` is the
/// port of the server hosted on this machine (`None`: the room is on
/// `server`), `default_port` the settings' host port, `lan` where others on
/// the network reach this machine.
pub fn share_hint(
    hosted: Option<u16>,
    default_port: u16,
    lan: Option<&str>,
    server: &str,
) -> String {
    match (hosted, lan) {
        // The default port was taken: others must type where we are.
        (Some(port), lan) if port != default_port => match lan {
            Some(lan) => format!(
                "Others join with the code and host 127.0.0.1:{port} (this machine) or {lan}"
            ),
            None => format!("Others join with the code and host 127.0.0.1:{port}"),
        },
        (Some(_), Some(lan)) => {
            format!("Players on this machine: just the code · on your network: host {lan}")
        }
        (Some(_), None) => "Players on this machine join with just the code".to_owned(),
        (None, _) => format!("Share the code · server {server}"),
    }
}

/// The link a friend opens to play in a browser in room `code`:
/// `http://HOST:PORT/play#CODE` on the signaling server at `server` (the
/// server serves the browser build at `/play`, same origin as its
/// Socket.IO endpoint). `ws` becomes `http`, `wss` `https`; a URL without a
/// scheme is `http`; a path, query or user in `server` is dropped. When the
/// server's host is this machine only (`127.0.0.1`, `::1`, `localhost`,
/// `0.0.0.0`) it is replaced by `lan`, this machine's address on its
/// network, when known (a friend cannot reach our loopback). `None` when
/// `server` names no host.
pub fn play_link(server: &str, lan: Option<std::net::IpAddr>, code: &str) -> Option<String> {
    let server = server.trim();
    let (scheme, rest) = match server.split_once("://") {
        Some((s, rest)) => (s.to_ascii_lowercase(), rest),
        None => ("http".to_owned(), server),
    };
    let scheme = match scheme.as_str() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    // [v6]:port, [v6], host:port or host.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return None;
    }
    let local_only = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    let host = match lan {
        Some(ip) if local_only => ip.to_string(),
        _ => host.to_owned(),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{scheme}://{host}{port}/play#{}", grouped(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_play_link_is_the_servers_http_address_as_a_friend_reaches_it() {
        let lan: Option<std::net::IpAddr> = "192.168.1.20".parse().ok();
        let code = "3a5qgnpb";
        // The embedded server, hosted on every interface: its LAN address.
        assert_eq!(
            play_link("http://127.0.0.1:3536", lan, code).as_deref(),
            Some("http://192.168.1.20:3536/play#3A5Q-GNPB")
        );
        assert_eq!(
            play_link("http://localhost:4000/", lan, code).as_deref(),
            Some("http://192.168.1.20:4000/play#3A5Q-GNPB")
        );
        // No network: the loopback address is all there is.
        assert_eq!(
            play_link("http://127.0.0.1:3536", None, code).as_deref(),
            Some("http://127.0.0.1:3536/play#3A5Q-GNPB")
        );
        // A configured server: its own host and port, whatever our LAN.
        assert_eq!(
            play_link("ws://10.0.0.7:3536", lan, code).as_deref(),
            Some("http://10.0.0.7:3536/play#3A5Q-GNPB")
        );
        assert_eq!(
            play_link("wss://arena.example.org/socket.io/?x=1", lan, code).as_deref(),
            Some("https://arena.example.org/play#3A5Q-GNPB")
        );
        assert_eq!(
            play_link("HTTPS://user:pw@arena.example.org:8443", lan, code).as_deref(),
            Some("https://arena.example.org:8443/play#3A5Q-GNPB")
        );
        assert_eq!(
            play_link("arena.example.org:3536", None, code).as_deref(),
            Some("http://arena.example.org:3536/play#3A5Q-GNPB")
        );
        assert_eq!(
            play_link("http://[::1]:3536", "fd00::5".parse().ok(), code).as_deref(),
            Some("http://[fd00::5]:3536/play#3A5Q-GNPB")
        );
        assert_eq!(
            play_link("http://[2001:db8::1]:3536", lan, code).as_deref(),
            Some("http://[2001:db8::1]:3536/play#3A5Q-GNPB")
        );
        for bad in ["", "http://", "ftp://x", "http://host:port", "http://[::1"] {
            assert_eq!(play_link(bad, lan, code), None, "{bad:?}");
        }
    }

    #[test]
    fn codes_are_grouped_for_people() {
        assert_eq!(grouped("abcd efgh"), "ABCD-EFGH");
        assert_eq!(grouped("nonsense"), "nonsense");
    }

    #[test]
    fn long_messages_wrap_at_spaces() {
        let lines = wrap("one two three four five", 9);
        assert_eq!(lines, ["one two", "three", "four five"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn every_failure_says_what_to_do() {
        let url = "http://127.0.0.1:3536";
        assert!(explain(RoomErrorKind::Unreachable, "", url).contains(url));
        assert!(explain(RoomErrorKind::NotFound, "", url).contains("Check it"));
        assert!(explain(RoomErrorKind::Full, "", url).contains("full"));
        assert!(explain(RoomErrorKind::Unauthorized, "no token", url).contains("token"));
    }

    #[test]
    fn only_route_changes_that_matter_make_a_toast() {
        let news = |from, to| route_news("Bob", from, to).map(|(kind, _)| kind);
        assert_eq!(
            news(Some(Route::Direct), Route::Relay),
            Some(ToastKind::Warn)
        );
        assert_eq!(
            news(Some(Route::Relay), Route::Direct),
            Some(ToastKind::Good)
        );
        assert_eq!(
            news(Some(Route::Direct), Route::Turn),
            Some(ToastKind::Info)
        );
        assert_eq!(news(None, Route::Unreachable), Some(ToastKind::Bad));
        assert_eq!(news(None, Route::Connecting), None);
        assert_eq!(news(Some(Route::Connecting), Route::Direct), None);
    }

    #[test]
    fn the_share_hint_says_where_to_join() {
        let server = "http://s:1";
        assert!(share_hint(None, 3536, None, server).contains(server));
        assert!(share_hint(Some(3536), 3536, None, server).contains("just the code"));
        let lan = Some("10.0.0.5:3536");
        assert!(share_hint(Some(3536), 3536, lan, server).contains("host 10.0.0.5:3536"));
        // Hosting on another port than the usual: others must type it.
        assert!(share_hint(Some(4000), 3536, None, server).contains("127.0.0.1:4000"));
    }
}
