#!/usr/bin/env python3
"""Compatibility client: drives arena-server with python-socketio, an
independent Socket.IO implementation, through hello -> create -> join ->
signal -> relay -> broadcast -> leave -> disconnect, checking the exact JSON
shapes of PROTOCOL.md. Exits non-zero on any mismatch.

Usage: compat_client.py URL     (needs: pip install "python-socketio[client]")
"""
import base64
import queue
import sys

import socketio

WAIT = 5.0
EVENTS = ["room_users", "user_joined", "user_left", "signal", "relay", "broadcast", "arena_error"]


class Peer:
    def __init__(self, name, url, transports=None):
        self.name = name
        self.q = queue.Queue()
        self.pending = []
        self.sio = socketio.Client(reconnection=False)
        for ev in EVENTS:
            self.sio.on(ev, self._handler(ev))
        self.sio.connect(url, transports=transports, wait_timeout=WAIT)
        self.id = self.sio.get_sid()

    def _handler(self, ev):
        def h(data=None):
            self.q.put((ev, data))
        return h

    def next(self, ev):
        for i, (e, d) in enumerate(self.pending):
            if e == ev:
                return self.pending.pop(i)[1]
        while True:
            try:
                e, d = self.q.get(timeout=WAIT)
            except queue.Empty:
                fail(f"{self.name}: timeout waiting for {ev}; pending {self.pending}")
            if e == ev:
                return d
            self.pending.append((e, d))

    def call(self, ev, data):
        return self.sio.call(ev, data, timeout=WAIT)


def fail(msg):
    print(f"COMPAT FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def expect(what, got, want):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")
    print(f"ok  {what}")


def main():
    if len(sys.argv) != 2:
        fail("usage: compat_client.py URL")
    url = sys.argv[1]
    a = Peer("A", url)  # polling, upgraded to websocket
    b = Peer("B", url, transports=["websocket"])

    hello = a.call("hello", {"v": 1, "name": "python"})
    expect("hello.server", hello.get("server"), "arena-server")
    created = a.call("create_room", {})
    code = created.get("roomId", "")
    expect("create_room code length", len(code), 8)

    ack = a.call("join_room", {"roomId": code})
    expect("join ack users", ack.get("users"), [a.id])
    expect("join ack iceServers is a list", isinstance(ack.get("iceServers"), list), True)
    expect("room_users A", a.next("room_users"), {"users": [a.id]})

    # B joins like a core client: no ack, typed in lower case with a dash.
    b.sio.emit("join_room", {"roomId": code[:4].lower() + "-" + code[4:]})
    expect("room_users B", b.next("room_users"), {"users": [a.id, b.id]})
    expect("user_joined at A", a.next("user_joined"), {"userId": b.id})

    offer = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
    b.sio.emit("signal", {"targetId": a.id, "signal": offer})
    expect("signal at A", a.next("signal"), {"userId": b.id, "signal": offer})
    cand = {"candidate": {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                          "sdpMid": "0", "sdpMLineIndex": 0}}
    a.sio.emit("signal", {"targetId": b.id, "signal": cand})
    expect("candidate at B", b.next("signal"), {"userId": a.id, "signal": cand})

    data = base64.b64encode(bytes(range(30, 70))).decode()
    a.sio.emit("relay", {"targetId": b.id, "data": data})
    expect("relay at B", b.next("relay"), {"userId": a.id, "data": data})
    b.sio.emit("broadcast", {"data": data})
    expect("broadcast at A", a.next("broadcast"), {"userId": b.id, "data": data})

    a.sio.emit("relay", {"targetId": b.id, "data": 12})
    err = a.next("arena_error")
    expect("bad relay error", (err.get("error"), err.get("event")), ("bad_request", "relay"))

    expect("leave ack", b.call("leave_room", {}), {"left": True})
    expect("user_left at A (leave)", a.next("user_left"), {"userId": b.id})

    b.sio.emit("join_room", {"roomId": code})
    b.next("room_users")
    expect("user_joined at A again", a.next("user_joined"), {"userId": b.id})
    b.sio.disconnect()
    expect("user_left at A (disconnect)", a.next("user_left"), {"userId": b.id})
    a.sio.disconnect()
    print("COMPAT OK")


if __name__ == "__main__":
    main()
