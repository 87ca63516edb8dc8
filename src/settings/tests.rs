//! Tests of the settings: file round trips, lenient loading, repairs,
//! overrides and the server URL parser.

use super::*;
use crate::sync::SendRate;
use crate::sync::throttle::MAX_RATE_HZ;

/// A fresh, empty folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("arena-settings-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("nested").join("settings.toml")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn custom() -> Settings {
    Settings {
        name: "Ada \"quoted\"".to_owned(),
        color: 5,
        mode: NetMode::WebRtcOnly,
        server_url: Some("https://arena.example.org".to_owned()),
        host_addr: "127.0.0.1:4000".parse().unwrap_or(DEFAULT_HOST_ADDR),
        send_rate: SendRate::Max(30.0),
        interp_delay: InterpDelay::FixedMs(120),
        ice_servers: vec![
            "stun:stun.example.org:3478".to_owned(),
            "turn:turn.example.org:3478?transport=udp".to_owned(),
        ],
        turn_user: Some("ada".to_owned()),
        turn_pass: Some("s3cr3t".to_owned()),
        latency_ms: 75.0,
        jitter_ms: 10.0,
        loss: 0.05,
        net_graph: true,
        create_token: Some("let-me-in".to_owned()),
    }
}

#[test]
fn round_trip_save_load() {
    let dir = TempDir::new("round-trip");
    let path = dir.file();
    for s in [custom(), Settings::default()] {
        assert!(s.validate().is_ok());
        s.save(&path).unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&path);
        assert_eq!(loaded.warning, None);
        assert_eq!(loaded.settings, s);
    }
    assert!(!path.with_file_name("settings.toml.tmp").exists());
    assert!(!path.with_file_name("settings.toml.bad").exists());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.starts_with("# P2P Arena settings"), "{text}");
    assert!(text.contains("# server_url = "), "{text}");
}

#[test]
fn missing_file_is_defaults_without_warning() {
    let dir = TempDir::new("missing");
    let loaded = load(&dir.file());
    assert_eq!(loaded.settings, Settings::default());
    assert_eq!(loaded.warning, None);
}

#[test]
fn malformed_file_gives_defaults_warning_and_is_kept_on_save() {
    let dir = TempDir::new("malformed");
    let path = dir.file();
    let _ = std::fs::create_dir_all(path.parent().unwrap_or(&dir.0));
    let original = "name = \"Ada\"\ncolor = 3\nthis is not toml\n";
    std::fs::write(&path, original).unwrap_or_else(|e| panic!("{e}"));
    let loaded = load(&path);
    assert_eq!(loaded.settings, Settings::default());
    let w = loaded.warning.unwrap_or_default();
    assert!(w.contains(&path.display().to_string()), "{w}");
    assert!(w.contains("line 3"), "{w}");
    assert!(w.contains("using defaults"), "{w}");
    assert!(w.contains("settings.toml.bad"), "{w}");

    loaded
        .settings
        .save(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    let bad = path.with_file_name("settings.toml.bad");
    assert_eq!(std::fs::read_to_string(&bad).unwrap_or_default(), original);
    assert_eq!(load(&path).warning, None);

    // Saving over a good file keeps no copy (and leaves the old .bad alone).
    std::fs::remove_file(&bad).unwrap_or_else(|e| panic!("{e}"));
    custom().save(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!bad.exists());
}

#[test]
fn wrong_type_and_unknown_key_skip_only_that_key() {
    let text = "name = \"Ada\"\nsend_rate = \"fast\"\nfavourite = 1\n";
    let p = parse(text.as_bytes());
    assert_eq!(p.settings.name, "Ada");
    assert_eq!(p.settings.send_rate, SendRate::Auto);
    assert!(p.lossy);
    assert_eq!(p.issues.len(), 2, "{:?}", p.issues);
    assert!(
        p.issues[0].starts_with("line 2: `send_rate`: invalid value"),
        "{:?}",
        p.issues
    );
    assert!(
        p.issues[0].ends_with("using the default \"auto\""),
        "{:?}",
        p.issues
    );
    assert!(p.issues[1].contains("line 3: unknown key `favourite`"));
    let syntax = parse(b"name = \"x\"\ncolor = [1\n");
    assert_eq!(syntax.issues.len(), 1);
    assert!(!syntax.issues[0].contains('\n'), "{:?}", syntax.issues);
    assert!(parse(b"\xff\xfe").lossy);
}

#[test]
fn out_of_range_values_are_clamped_with_warning() {
    let dir = TempDir::new("range");
    let path = dir.file();
    let _ = std::fs::create_dir_all(path.parent().unwrap_or(&dir.0));
    let text = "\
name = \"  a name that is far too long  \"
color = 12
server_url = \"ftp://x\"
send_rate = 500
interp_delay = 900
ice_servers = [\"stun:ok.example:3478\", \"http://nope\", \"\"]
latency_ms = -3
jitter_ms = nan
loss = 2.0
";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let loaded = load(&path);
    let s = &loaded.settings;
    assert_eq!(s.name, "a name that is f");
    assert_eq!(s.color, 0);
    assert_eq!(s.server_url, None);
    assert_eq!(s.send_rate, SendRate::Max(MAX_RATE_HZ));
    assert_eq!(s.interp_delay, InterpDelay::FixedMs(MAX_INTERP_DELAY_MS));
    assert_eq!(s.ice_servers, vec!["stun:ok.example:3478".to_owned()]);
    assert_eq!(s.latency_ms, 0.0);
    assert_eq!(s.jitter_ms, 0.0);
    assert_eq!(s.loss, MAX_LOSS);
    assert!(s.validate().is_ok(), "{:?}", s.validate());
    let w = loaded.warning.unwrap_or_default();
    assert!(
        w.contains("line 4: send_rate 500 is outside 5–60 Hz; using 60"),
        "{w}"
    );
    assert!(w.contains("line 2: color 12"), "{w}");
    assert!(w.contains("\"http://nope\""), "{w}");
    // Clamping loses nothing the person wrote: no .bad copy on save.
    assert!(!w.contains(".bad"), "{w}");
    s.save(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!path.with_file_name("settings.toml.bad").exists());
}

#[test]
fn validate_names_the_field() {
    let bad = Settings {
        send_rate: SendRate::Max(61.0),
        ..Settings::default()
    };
    let e = bad.validate().err().map(|e| (e.field(), e.to_string()));
    assert_eq!(
        e,
        Some((
            Some("send_rate"),
            "send_rate must be between 5 and 60 Hz, got 61".to_owned()
        ))
    );
    let bad = Settings {
        server_url: Some("localhost:3536".to_owned()),
        ..Settings::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SettingsError::ServerUrl { .. })
    ));
    let bad = Settings {
        name: String::new(),
        ..Settings::default()
    };
    assert!(matches!(bad.validate(), Err(SettingsError::Name { .. })));
    let bad = Settings {
        ice_servers: vec!["stun.example.org".to_owned()],
        ..Settings::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SettingsError::IceServer { .. })
    ));
    let (fixed, repairs) = bad.sanitized();
    assert!(fixed.validate().is_ok());
    assert_eq!(repairs.len(), 1);
}

#[test]
fn overrides_win_over_the_file_and_later_layers_win() {
    let mut s = custom();
    let env = Overrides::default()
        .with("name", "Env")
        .with("send_rate", "10")
        .with("server_url", "embedded");
    let cli = Overrides::default()
        .with("name", " Cli ")
        .with("turn_pass", "")
        .with("ice_servers", "")
        .with("interp_delay", "auto");
    s.apply(&env).unwrap_or_else(|e| panic!("{e}"));
    s.apply(&cli).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "Cli");
    assert_eq!(s.send_rate, SendRate::Max(10.0));
    assert_eq!(s.server_url, None);
    assert_eq!(s.server_label(), HOST_HERE);
    assert_eq!(s.turn_pass, None);
    assert!(s.ice_servers.is_empty());
    assert!(s.ice_servers().is_empty());
    assert_eq!(s.interp_delay, InterpDelay::Auto);
    // Untouched keys keep the file's value.
    assert_eq!(s.color, 5);
    assert_eq!(s.mode, NetMode::WebRtcOnly);
    assert_eq!(s.turn_user.as_deref(), Some("ada"));
    for host in ["", " host ", "EMBEDDED"] {
        assert_eq!(server_url_from_input(host), None);
    }
    // Text that is no value of its setting is refused, naming it.
    let bad = |key, text| {
        Settings::default()
            .apply(&Overrides::default().with(key, text))
            .err()
            .and_then(|e| e.field())
    };
    assert_eq!(bad("color", "red"), Some("color"));
    assert_eq!(bad("mode", "carrier pigeon"), Some("mode"));
    assert_eq!(bad("interp_delay", "900"), Some("interp_delay"));
    assert_eq!(bad("net_graph", "yes"), Some("net_graph"));
    assert_eq!(bad("favourite", "1"), Some("favourite"));
}

#[test]
fn server_urls_are_read_as_typed_everywhere() {
    let url = |s: &str| server_url_from_input(s);
    assert_eq!(url("  "), None);
    assert_eq!(url("10.0.0.5:3536"), Some("http://10.0.0.5:3536".into()));
    assert_eq!(
        url("192.168.1.5:3536"),
        Some("http://192.168.1.5:3536".into())
    );
    assert_eq!(
        url(" https://arena.example/ "),
        Some("https://arena.example".into())
    );
    assert_eq!(url("http://[::1]:80"), Some("http://[::1]:80".into()));
    assert_eq!(
        url("HTTPS://Arena.example"),
        Some("https://Arena.example".into())
    );
    assert_eq!(url("localhost:3536"), Some("http://localhost:3536".into()));
    // What the join screen accepts, Settings accepts: from the screen, a
    // flag or the file.
    let mut s = Settings::default();
    let server = field("server_url").map(|f| f.set_text(&mut s, " 10.0.0.5:3536 "));
    assert!(matches!(server, Some(Ok(()))));
    assert_eq!(s.server_url.as_deref(), Some("http://10.0.0.5:3536"));
    assert!(s.validate().is_ok(), "{:?}", s.validate());
    let p = parse(b"server_url = \"10.0.0.5:3536/\"\n");
    assert!(p.issues.is_empty(), "{:?}", p.issues);
    assert_eq!(
        p.settings.server_url.as_deref(),
        Some("http://10.0.0.5:3536")
    );
    // Other schemes and spaces are refused.
    for bad in ["ftp://x", "http://", "http://a b", "/"] {
        let s = Settings {
            server_url: url(bad),
            ..Settings::default()
        };
        assert!(
            matches!(s.validate(), Err(SettingsError::ServerUrl { .. })),
            "{bad}"
        );
    }
}

#[test]
fn the_table_has_every_key_once_and_its_docs() {
    let table = match toml::Value::try_from(custom()) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let keys: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), keys.len(), "{keys:?}");
    assert_eq!(keys.len(), table.len(), "{keys:?}");
    for f in FIELDS {
        assert!(table.contains_key(f.key), "{}", f.key);
        // The text of a value reads back as the same value.
        let mut s = Settings::default();
        let text = f.text(&custom());
        assert!(f.set_text(&mut s, &text).is_ok(), "{}: {text:?}", f.key);
        assert_eq!(f.text(&s), text, "{}", f.key);
    }
    let latency = field("latency_ms").map(Field::describe);
    assert_eq!(
        latency.as_deref(),
        Some("Link conditioner, for testing: added latency, 0-1000 ms.")
    );
}

#[test]
fn interp_delay_parsing() {
    let ok = |s: &str| s.parse::<InterpDelay>().ok();
    assert_eq!(ok("auto"), Some(InterpDelay::Auto));
    assert_eq!(ok(" AUTO "), Some(InterpDelay::Auto));
    assert_eq!(ok("120"), Some(InterpDelay::FixedMs(120)));
    assert_eq!(ok("120ms"), Some(InterpDelay::FixedMs(120)));
    assert_eq!(ok("0 ms"), Some(InterpDelay::FixedMs(0)));
    assert_eq!(ok("500"), Some(InterpDelay::FixedMs(500)));
    assert_eq!(ok("501"), None);
    assert_eq!(ok("-5"), None);
    assert_eq!(ok("soon"), None);
    assert_eq!(InterpDelay::FixedMs(120).to_string(), "120ms");
    assert_eq!(
        InterpDelay::FixedMs(120).to_delay_mode(),
        DelayMode::Fixed(0.12)
    );
    assert_eq!(InterpDelay::Auto.to_delay_mode(), DelayMode::default());
    for (toml, want) in [
        ("interp_delay = \"auto\"", InterpDelay::Auto),
        ("interp_delay = 80", InterpDelay::FixedMs(80)),
        ("interp_delay = \"80ms\"", InterpDelay::FixedMs(80)),
        ("interp_delay = 80.4", InterpDelay::FixedMs(80)),
    ] {
        let p = parse(toml.as_bytes());
        assert!(p.issues.is_empty(), "{toml}: {:?}", p.issues);
        assert_eq!(p.settings.interp_delay, want, "{toml}");
    }
    assert!(parse(b"interp_delay = -1").lossy);
}

#[test]
fn ice_servers_and_conditions() {
    let s = custom();
    let ice = s.ice_servers();
    assert_eq!(ice.len(), 1);
    assert_eq!(ice[0].urls.len(), 2);
    assert_eq!(ice[0].username.as_deref(), Some("ada"));
    assert_eq!(ice[0].credential.as_deref(), Some("s3cr3t"));
    let c = Settings {
        latency_ms: 5000.0,
        jitter_ms: f64::INFINITY,
        loss: 0.9,
        ..Settings::default()
    }
    .conditions();
    assert_eq!(
        c,
        LinkConditions {
            latency_ms: LinkConditions::MAX_LATENCY_MS,
            jitter_ms: 0.0,
            loss: MAX_LOSS
        }
    );
    assert_eq!(
        ice_list_from_input(" stun:a:1, turn:b:2  stun:c:3,,"),
        vec!["stun:a:1", "turn:b:2", "stun:c:3"]
    );
    assert_eq!(s.server_label(), "https://arena.example.org");
    assert!(default_path().is_none_or(|p| p.ends_with("settings.toml")));
}

/// A file as the version before the settings table wrote it.
const OLD_FILE: &str = r#"# P2P Arena settings, written by the game's Settings screen.

# Player name, 1 to 16 characters.
name = 'Ada "quoted"'

# Preferred colour, 0-7: blue, red, green, yellow, purple, orange, cyan, pink.
color = 5
mode = "webrtc"
server_url = "https://arena.example.org"
host_addr = "127.0.0.1:4000"
send_rate_hz = 30.0
interp_delay = 120
ice_servers = ["stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp"]
turn_user = "ada"
turn_pass = "s3cr3t"
latency_ms = 75.0
jitter_ms = 10.0
loss = 0.05
net_graph = true
create_token = "let-me-in"
"#;

#[test]
fn files_of_the_previous_version_load_and_are_written_alike() {
    let p = parse(OLD_FILE.as_bytes());
    assert!(p.issues.is_empty() && !p.lossy, "{:?}", p.issues);
    assert_eq!(p.settings, custom());
    let new = custom().to_toml().unwrap_or_else(|e| panic!("{e}"));
    for line in OLD_FILE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        // The fixed rate of old became the cap of `send_rate`.
        let line = line.replace("send_rate_hz = 30.0", "send_rate = 30.0");
        assert!(new.lines().any(|l| l == line), "{line:?} not in\n{new}");
    }
}

#[test]
fn the_old_fixed_send_rate_becomes_auto_or_a_cap() {
    // Every file of old had a rate; its default meant "nobody chose".
    let p = parse(b"send_rate_hz = 20.0\n");
    assert!(p.issues.is_empty() && !p.lossy, "{:?}", p.issues);
    assert_eq!(p.settings.send_rate, SendRate::Auto);
    let p = parse(b"send_rate_hz = 30\n");
    assert_eq!(p.settings.send_rate, SendRate::Max(30.0));
    // Out of range: repaired like the new key, naming it.
    let p = parse(b"send_rate_hz = 500\n");
    assert_eq!(p.settings.send_rate, SendRate::Max(MAX_RATE_HZ));
    assert!(
        p.issues[0].starts_with("line 1: send_rate 500"),
        "{:?}",
        p.issues
    );
    // The new key wins over the old one.
    let p = parse(b"send_rate = \"auto\"\nsend_rate_hz = 45\n");
    assert_eq!(p.settings.send_rate, SendRate::Auto);
    // Text: "auto", "30", "30 Hz".
    let p = parse(b"send_rate = \"30 Hz\"\n");
    assert_eq!(p.settings.send_rate, SendRate::Max(30.0));
}
