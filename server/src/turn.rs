//! ICE servers for clients and TURN REST credentials.
//!
//! Owns the `iceServers` list a joiner receives: the configured STUN URLs as
//! they are, and the TURN URLs with short-lived credentials of the TURN REST
//! scheme (coturn's `use-auth-secret`): username `expiry:id`, credential
//! base64(HMAC-SHA1(secret, username)). Pure: the current time is an argument;
//! the secret never leaves this module's output other than through the HMAC.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::protocol::IceServer;

/// Whether `host` can go into a `stun:` URL as is: a DNS name, an IPv4
/// address, or an IPv6 address in brackets.
pub fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// The host part of an HTTP `Host` header (`name`, `name:port`, `[v6]:port`),
/// if it can go into a URL; bare IPv6 addresses get their brackets.
pub fn host_of(header: &str) -> Option<String> {
    let header = header.trim();
    let host = if header.starts_with('[') {
        &header[..=header.find(']')?]
    } else if header.matches(':').count() == 1 {
        header.split(':').next()?
    } else if header.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some(format!("[{header}]"));
    } else {
        header
    };
    valid_host(host).then(|| host.to_ascii_lowercase())
}

/// TURN REST credentials for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// `expiry:id`, expiry in Unix seconds.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub credential: String,
}

/// Credentials valid until `now_unix + ttl_secs` for user `id`.
pub fn rest_credentials(secret: &str, id: &str, now_unix: u64, ttl_secs: u64) -> TurnCredentials {
    let username = format!("{}:{}", now_unix.saturating_add(ttl_secs), id);
    TurnCredentials {
        credential: sign(secret, &username),
        username,
    }
}

/// base64(HMAC-SHA1(secret, username)): what a TURN server recomputes to check a credential.
pub fn sign(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length, so this never fails; an empty MAC would
    // only make TURN refuse the credential.
    match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The `iceServers` of a join: STUN entries, then TURN with fresh credentials
/// when a secret is configured (TURN URLs without a secret are not handed out,
/// a TURN entry without credentials being useless to a browser).
pub fn ice_servers(
    stun: &[String],
    turn: &[String],
    secret: Option<&str>,
    id: &str,
    now_unix: u64,
    ttl_secs: u64,
) -> Vec<IceServer> {
    let mut out = Vec::with_capacity(2);
    if !stun.is_empty() {
        out.push(IceServer {
            urls: stun.to_vec(),
            username: None,
            credential: None,
        });
    }
    if let (false, Some(secret)) = (turn.is_empty(), secret) {
        let c = rest_credentials(secret, id, now_unix, ttl_secs);
        out.push(IceServer {
            urls: turn.to_vec(),
            username: Some(c.username),
            credential: Some(c.credential),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        let mac = sign("Jefe", "what do ya want for nothing?");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(mac)
            .unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn hosts_for_stun_urls() {
        assert_eq!(host_of("198.18.0.2:3536").as_deref(), Some("198.18.0.2"));
        assert_eq!(
            host_of("Arena.Example.org").as_deref(),
            Some("arena.example.org")
        );
        assert_eq!(host_of("[::1]:3536").as_deref(), Some("[::1]"));
        assert_eq!(host_of("::1").as_deref(), Some("[::1]"));
        for bad in ["", "a b", "evil/path:1", "x?y", "[nope]:1", "a:b:c"] {
            assert_eq!(host_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn credentials_follow_the_rest_scheme() {
        let c = rest_credentials("s3cret", "abc", 1_000, 600);
        assert_eq!(c.username, "1600:abc");
        assert_eq!(c.credential, sign("s3cret", "1600:abc"));
        let list = ice_servers(
            &["stun:a".into()],
            &["turn:b".into()],
            Some("s3cret"),
            "abc",
            1_000,
            600,
        );
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].username.as_deref(), Some("1600:abc"));
        assert!(!format!("{list:?}").contains("s3cret"));
        assert_eq!(
            ice_servers(&[], &["turn:b".into()], None, "x", 0, 1),
            vec![]
        );
    }
}
