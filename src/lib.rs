//! P2P Arena: a peer-to-peer, top-down arena game.
//!
//! # Architecture
//!
//! Two threads meet at a typed boundary. The main thread runs the macroquad
//! render loop (`ui`): it reads input, steps the pure simulation (`sim`) at a
//! fixed 60 Hz, draws remote players from interpolated snapshots (`sync`) and
//! never blocks on the network. The net thread (`net`) owns a tokio runtime,
//! the Socket.IO signaling client and the WebRTC mesh, and talks to the main
//! thread only through `NetCommand`/`NetEvent` channels.
//!
//! | module | owns | must not touch |
//! |---|---|---|
//! | [`sim`] | game rules: map, players, projectiles, hits, score, match | I/O, clock, macroquad, tokio |
//! | [`ai`] | scripted opponents producing [`sim::InputFrame`]s | I/O, clock |
//! | [`sync`] | snapshot buffers, interpolation, extrapolation, delay, clock offset | I/O, clock, macroquad, tokio |
//! | [`proto`] | game wire messages: quantization, encode/decode, validation | I/O, clock, sockets |
//! | [`net`] | the net thread (signaling client, WebRTC mesh, routing) and the embedded signaling server | macroquad, game rules |
//! | [`online_match`] | the networked match: local avatar + remote puppets fed by sync, victim-authority hits, kill credit | I/O, clock, macroquad, tokio |
//! | [`session`] | one networked session for the window and the bot: `NetConfig` from settings, net thread + match, event pump, stdout lines | macroquad, game rules |
//! | [`bot`] | the headless client: a session played by the AI, JSON report; the bots started from a match | macroquad |
//! | [`ui`] | macroquad screens, rendering, HUD, sound | sockets, the simulation's state (reads only) |
//! | [`config`] | settings: defaults < settings file < env < CLI | — |
//! | [`settings`] | the player's settings: file in the OS config dir, env/CLI overrides, validation | macroquad, sockets |
//!
//! | [`time`], [`random`] | the clock (`Instant`) and fresh seeds, on desktop and in the browser | policy |
//! | [`web`] | the browser build's entry: its configuration (menu and practice, settings in memory) | sockets, files |
//!
//! In the browser (`wasm32-unknown-unknown`, DESIGN.md "The browser build")
//! `bot`, the net thread and the settings file are compiled out; `session`
//! and the online screen drive the web shell (`net::web`) around the same
//! net core (`net::core`, `net::sio`, `net::route`, `net::reliable`,
//! `net::api`) instead.
//!
//! `sim`, `sync` and `proto` are pure: time is an argument, they are
//! deterministic and unit-tested without a window or a socket.
#![forbid(unsafe_code)]

pub mod ai;
#[cfg(not(target_arch = "wasm32"))]
pub mod bot;
pub mod config;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod net;
pub mod online_match;
pub mod proto;
pub mod random;
pub mod session;
pub mod settings;
pub mod sim;
pub mod sync;
pub mod time;
pub mod ui;
pub mod web;
