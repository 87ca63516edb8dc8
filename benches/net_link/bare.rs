//! The baseline for the `direct` route: bare webrtc 0.21 ping-pong, two
//! peer connections in the bench process (as webrtc's own tests pair them),
//! none of our code in the path. Included by `benches/net_link.rs`.
//!
//! One unreliable channel (`ordered: false, max_retransmits: 0`, like our
//! `state` channel), bound to 127.0.0.1, on a tokio runtime with two worker
//! threads (like the net thread). The pinger's task sends a 32-byte message
//! and takes the time; the answerer's channel reader sends it straight back;
//! the pinger's channel reader takes the time again. Pings go out at a fixed
//! rate (`hz`, as the bots ping) or, with `hz = 0`, back to back (the next
//! ping as soon as the pong is in: every thread stays awake).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCSessionDescription,
};

/// Signals gathering complete and hands over the answerer's channel.
struct Handler {
    gathered: mpsc::UnboundedSender<()>,
    channel: mpsc::UnboundedSender<Arc<dyn DataChannel>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        if s == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let _ = self.channel.send(dc);
    }
}

struct Peer {
    pc: Arc<dyn PeerConnection>,
    gathered: mpsc::UnboundedReceiver<()>,
    channel: mpsc::UnboundedReceiver<Arc<dyn DataChannel>>,
}

async fn peer() -> Peer {
    let (g_tx, gathered) = mpsc::unbounded_channel();
    let (c_tx, channel) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_handler(Arc::new(Handler {
            gathered: g_tx,
            channel: c_tx,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .expect("peer connection");
    Peer {
        pc: Arc::new(pc),
        gathered,
        channel,
    }
}

/// Its local description once gathering is complete (candidates inside).
async fn described(p: &mut Peer) -> RTCSessionDescription {
    let wait = Duration::from_secs(5);
    let _ = tokio::time::timeout(wait, p.gathered.recv()).await;
    p.pc.local_description().await.expect("local description")
}

/// Round trips in milliseconds: `secs` of pings at `hz` per second, or
/// `count` back to back when `hz` is 0.
pub fn ping_pong(hz: f64, secs: f64, count: usize) -> Vec<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (mut a, mut b) = (peer().await, peer().await);
        let unreliable = RTCDataChannelInit {
            ordered: false,
            max_retransmits: Some(0),
            ..Default::default()
        };
        let dc =
            a.pc.create_data_channel("state", Some(unreliable))
                .await
                .expect("channel");
        let offer = a.pc.create_offer(None).await.expect("offer");
        a.pc.set_local_description(offer)
            .await
            .expect("local offer");
        let offer = described(&mut a).await;
        b.pc.set_remote_description(offer)
            .await
            .expect("remote offer");
        let answer = b.pc.create_answer(None).await.expect("answer");
        b.pc.set_local_description(answer)
            .await
            .expect("local answer");
        let answer = described(&mut b).await;
        a.pc.set_remote_description(answer)
            .await
            .expect("remote answer");

        // The answerer echoes everything on its channel.
        let echo = tokio::time::timeout(Duration::from_secs(10), b.channel.recv())
            .await
            .expect("answerer's channel in time")
            .expect("answerer's channel");
        tokio::spawn(async move {
            while let Some(ev) = echo.poll().await {
                match ev {
                    DataChannelEvent::OnMessage(m) => {
                        let _ = echo.send(m.data).await;
                    }
                    DataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
        });
        // The pinger's reader takes the time a pong arrives.
        let (open_tx, mut open) = mpsc::unbounded_channel();
        let (pong_tx, mut pongs) = mpsc::unbounded_channel();
        let reader = dc.clone();
        tokio::spawn(async move {
            while let Some(ev) = reader.poll().await {
                match ev {
                    DataChannelEvent::OnOpen => {
                        let _ = open_tx.send(());
                    }
                    DataChannelEvent::OnMessage(m) => {
                        let _ = pong_tx.send((Instant::now(), m.data));
                    }
                    DataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), open.recv())
            .await
            .expect("channel open in time");
        // Let the handshake's last packets settle.
        tokio::time::sleep(Duration::from_millis(200)).await;

        // The pinger is a task on a worker, as any webrtc application's
        // would be (not the thread that called `block_on`).
        let pinger = dc.clone();
        let rtts = tokio::spawn(async move {
            let dc = pinger;
            let mut rtts = Vec::new();
            let mut sent_at: Vec<Instant> = Vec::new();
            let n = if hz > 0.0 {
                (secs * hz) as usize
            } else {
                count
            };
            let period = if hz > 0.0 {
                Duration::from_secs_f64(1.0 / hz)
            } else {
                Duration::ZERO
            };
            let mut tick = tokio::time::interval(period.max(Duration::from_micros(1)));
            for i in 0..n {
                if hz > 0.0 {
                    tick.tick().await;
                }
                let mut msg = BytesMut::zeroed(32);
                msg[..8].copy_from_slice(&(i as u64).to_le_bytes());
                sent_at.push(Instant::now());
                dc.send(msg).await.expect("send");
                let wait = Duration::from_millis(500);
                let Ok(Some((at, data))) = tokio::time::timeout(wait, pongs.recv()).await else {
                    continue; // lost: unreliable channel
                };
                let seq = u64::from_le_bytes(data[..8].try_into().expect("8 bytes")) as usize;
                if let Some(t) = sent_at.get(seq) {
                    rtts.push((at - *t).as_secs_f64() * 1000.0);
                }
            }
            rtts
        })
        .await
        .expect("pinger");
        let _ = a.pc.close().await;
        let _ = b.pc.close().await;
        rtts
    })
}
