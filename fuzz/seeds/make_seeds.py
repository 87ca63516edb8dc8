#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into
fuzz/corpus/<target>/seed-*: real, valid examples from docs/PROTOCOL.md,
the settings file and the tests. scripts/fuzz.sh grows the corpus from them.
Run from anywhere: python3 fuzz/seeds/make_seeds.py"""
import json, struct, zlib, pathlib

FUZZ = pathlib.Path(__file__).resolve().parent.parent
ROOT = FUZZ.parent

def write(target, name, data):
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)

# --- proto_decode: version 1 + postcard body (src/proto/mod.rs) ---
def v(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)
def zz(n):
    return v((n << 1) ^ (n >> 31) if n >= 0 else ((-n) << 1) - 1)
def s(t):
    b = t.encode()
    return v(len(b)) + b
def pos(x, y):
    return v(round((x + 64) * 8)) + v(round((y + 64) * 8))
u64 = lambda n: struct.pack("<Q", n)
u32 = lambda n: struct.pack("<I", n)
u16 = lambda n: struct.pack("<H", n)
f64 = lambda f: struct.pack("<d", f)
ID = 0x1122334455667788
msgs = {
    "hello": v(0) + u64(ID) + s("Ada") + bytes([3]),
    "state": v(1) + u16(7) + u32(123456) + pos(800, 500) + zz(80) + zz(-40) + u16(16384)
             + bytes([100, 2]) + v((5 << 1) | 1) + v(3),
    "state-dead": v(1) + u16(65535) + u32(0) + pos(0, 0) + zz(0) + zz(0) + u16(0)
                  + bytes([0, 0]) + v(0) + v(0),
    "event-fire": v(2) + u64(ID) + v(1) + v(0) + pos(100, 200) + u16(1000),
    "event-hit": v(2) + u64(ID) + v(2) + v(1) + u64(ID + 1) + bytes([1]),
    "event-killed": v(2) + u64(ID) + v(3) + v(2) + u64(ID + 1) + u64(ID),
    "event-chat": v(2) + u64(ID) + v(4) + v(4) + s("gg, well played"),
    "ack": v(3) + u64(ID) + u32(0xDEADBEEF) + v(9),
    "ping": v(4) + v(42) + f64(12.5),
    "pong": v(5) + v(42) + f64(12.5) + f64(99.25),
    "resume": v(6) + u64(ID) + u32(0xDEADBEEF) + v(1),
    "bye": v(7),
}
for name, body in msgs.items():
    write("proto_decode", name, bytes([1]) + body)

# --- server_event: first byte picks the event (arena_server::fuzzing::EVENTS) ---
EVENTS = ["hello", "create_room", "join_room", "leave_room", "signal", "relay", "broadcast"]
SDP = ("v=0\r\no=- 123 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
       "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
       "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef012345\r\na=setup:actpass\r\na=mid:0\r\n"
       "a=sctp-port:5000\r\n")
events = {
    "hello": [{"v": 1, "name": "Ada"}, None, {}],
    "create_room": [{}, {"token": "s3cret"}, None],
    "join_room": [{"roomId": "ABCDEFGH"}, {"roomId": "abcd-efgh"}, {"roomId": "ABCD-EFGH", "rejoin": True},
                  {"roomId": "lobby"}, {"roomId": ""}],
    "leave_room": [{}],
    "signal": [{"targetId": "sid1", "signal": {"type": "offer", "sdp": SDP}},
               {"targetId": "sid1", "signal": {"type": "answer", "sdp": SDP}},
               {"targetId": "sid1", "signal": {"candidate": {"candidate": "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}},
               {"targetId": "sid1", "signal": {"candidate": {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "arena-probe-1122334455667788-abc"}}}],
    "relay": [{"targetId": "sid1", "data": "AQc="}, {"targetId": "sid1", "data": "AAE="}],
    "broadcast": [{"data": "AQc="}, {"data": ""}],
}
for ev, payloads in events.items():
    for i, p in enumerate(payloads):
        body = b"" if p is None else json.dumps(p).encode()
        write("server_event", f"{ev}-{i}", bytes([EVENTS.index(ev)]) + body)

# --- room_code ---
for i, c in enumerate(["ABCDEFGH", "abcd-efgh", " ABCD EFGH ", "0123-4567", "ZZZZZZZZ", "ABCDEFGI", "ABC", "abcd\u00e9fgh"]):
    write("room_code", str(i), c)

# --- stun_datagram: Binding requests (RFC 8489), with and without FINGERPRINT ---
MAGIC = 0x2112A442
def stun(typ, attrs, tid=b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", fingerprint=False):
    body = b"".join(struct.pack(">HH", t, len(val)) + val + b"\0" * (-len(val) % 4) for t, val in attrs)
    if fingerprint:
        hdr = struct.pack(">HHI", typ, len(body) + 8, MAGIC) + tid
        crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += struct.pack(">HHI", 0x8028, 4, crc)
    return struct.pack(">HHI", typ, len(body), MAGIC) + tid + body
write("stun_datagram", "binding", stun(0x0001, []))
write("stun_datagram", "binding-fingerprint", stun(0x0001, [], fingerprint=True))
write("stun_datagram", "binding-software", stun(0x0001, [(0x8022, b"webrtc-rs")], fingerprint=True))
write("stun_datagram", "binding-ice", stun(0x0001, [(0x0006, b"abcd:efgh"), (0x0024, b"\x6e\x00\x1e\xff"), (0x802A, b"\0" * 8)], fingerprint=True))
write("stun_datagram", "binding-success", stun(0x0101, [(0x0020, b"\x00\x01\xa1\x47\xe1\x12\xa6\x43")]))
write("stun_datagram", "allocate", stun(0x0003, [(0x0019, b"\x11\0\0\0")]))

# --- settings_file: the file the game writes, plus hand edits ---
write("settings_file", "empty", "")
write("settings_file", "typical", (ROOT / "fuzz" / "seeds" / "settings.toml").read_text())
write("settings_file", "bad", 'name = ""\ncolor = 99\ninterp_delay = "fast"\nunknown = 1\n')
write("settings_file", "range", 'name = "  a name that is far too long  "\ncolor = 12\nserver_url = "ftp://x"\nsend_rate_hz = 500\ninterp_delay = 900\nice_servers = ["stun:ok.example:3478", "http://nope", ""]\nlatency_ms = -3\njitter_ms = nan\nloss = 2.0\n')
write("settings_file", "delay", 'interp_delay = "80ms"\nmode = "webrtc"\n')
write("settings_file", "syntax", 'name = "Ada\n')
write("settings_file", "ice", 'ice_servers = ["stun:stun.example.org:3478", "turn:turn.example.org"]\nturn_user = "u"\nturn_pass = "p"\n')

# --- map_file: the built-in arena and small variations ---
arena = (ROOT / "assets" / "arena.toml").read_text()
write("map_file", "arena", arena)
write("map_file", "empty", "")
write("map_file", "no-spawns", 'name = "x"\nsize = [100.0, 100.0]\nwalls = []\nspawns = []\n')
write("map_file", "nan", arena.replace("1600", "nan", 1))
write("map_file", "small", arena.replace("1000", "10", 1))
