//! [`EchoLoops`]: the rule that ends a loop between this service and another that answers
//! whatever it receives.
//!
//! One datagram forged "from" another echo-like service (a second upcase, the textbook's
//! server, an RFC 862 echo) makes the two answer each other for ever: each reply is the other's
//! next request. Port rules catch such a peer only on the well-known small-service ports or
//! this service's own. This rule catches it by what it does: in a loop, the datagram that comes
//! back is exactly the reply just sent, and it comes back at once.
//!
//! So a source that sends back, byte for byte, the reply it was sent less than
//! [`LOOP_WINDOW`] before, [`LOOP_STREAK`] times in a row, is a reflector, not a client: that
//! datagram goes unanswered, and with nothing to send back the other side falls silent. Real
//! clients are not caught. A probe or a textbook client uses a new socket (a new source port)
//! for each message; a load generator numbers its requests, so no two are alike; a person does
//! not type back the line just answered 32 times in a row, each within two seconds. A client
//! that does send its last reply back, 32 times (`yes | upcase client --udp` against
//! `--transform echo`), loses one reply, and its resend after its timeout starts a new streak,
//! so it is answered.
//!
//! The window is long enough for an echo service across a WAN, or a slow one: a service that
//! answers after a second still sends each reply back within [`LOOP_WINDOW`], so its loop ends
//! after [`LOOP_STREAK`] exchanges, as one on the same host does.
//!
//! Only a datagram that the transform leaves as it is can be part of a loop (every reply in a
//! loop is the transform of the one before), so the table is looked at only for those: a
//! lower-case request to the upper-case service costs one comparison.

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

/// How soon a reply must come back to count as echoed: longer than the round trip to any echo
/// service a forged datagram could pair this one with (a second, across the world and back,
/// with room for a slow service), so that no loop outlasts [`LOOP_STREAK`] exchanges.
pub(crate) const LOOP_WINDOW: Duration = Duration::from_secs(2);

/// Echoes in a row after which a source is taken for a reflector.
pub(crate) const LOOP_STREAK: u32 = 32;

/// The most sources one socket tracks. Sources whose last reply is older than the window are
/// forgotten first; past that, of a few drawn at random, the one with the shortest streak and,
/// among those, answered longest ago, so that a flood of new sources cannot keep a loop in
/// progress from being tracked.
///
/// At random, because a sample taken where the table begins looks at the same places each
/// time: taking the oldest there leaves the newest of a flood there, and a loop's source placed
/// among them, waiting for its first echo with the streak of any of them, would be forgotten at
/// every turn and never caught. The draws come from a keyed hash, so that no sender can tell
/// which sources will be looked at.
const MAX_TRACKED: usize = 4096;

/// How many tracked sources are looked at to choose one to forget when the table is full.
const EVICTION_SAMPLE: usize = 8;

/// How often, at most, a full table is swept for sources older than the window: a sweep looks
/// at every source, and a flood of new ones would otherwise make each datagram pay for one.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// For one UDP socket: the last reply that left the transform unchanged, per source.
#[derive(Debug, Default)]
pub(crate) struct EchoLoops {
    /// The last such reply to each source; indexed too, so that sources can be drawn at random
    /// places.
    last: IndexMap<SocketAddr, Remembered>,
    /// Keys the digests, so that no one can make two different replies look the same, and the
    /// draws, so that no one can foresee them.
    digests: RandomState,
    /// Draws made so far: each is the keyed hash of the next count.
    draws: u64,
    /// When a full table was last swept for stale sources.
    swept: Option<Instant>,
}

/// A reply as remembered: its digest, when it left, and how many echoes led to it.
#[derive(Debug, Clone, Copy)]
struct Remembered {
    digest: u64,
    len: usize,
    at: Instant,
    streak: u32,
}

impl EchoLoops {
    /// Checks `reply`, about to go to `to` in answer to `request`: `true` if it must not go,
    /// because `request` is the [`LOOP_STREAK`]th echo in a row of the reply before. Otherwise
    /// remembers `reply` when the transform left `request` as it was.
    #[inline]
    pub(crate) fn is_loop(&mut self, to: SocketAddr, request: &[u8], reply: &[u8]) -> bool {
        // The clock is read only for the datagrams that can be part of a loop.
        request == reply && self.is_loop_at(to, reply, Instant::now())
    }

    /// [`is_loop`](Self::is_loop) at `now`, for a `reply` equal to its request. A source
    /// already tracked is looked up once, and its entry updated in place.
    fn is_loop_at(&mut self, to: SocketAddr, reply: &[u8], now: Instant) -> bool {
        let sent = Remembered {
            digest: self.digests.hash_one(reply),
            len: reply.len(),
            at: now,
            streak: 0,
        };
        let Some((place, _, last)) = self.last.get_full_mut(&to) else {
            self.remember_new(to, sent);
            return false;
        };
        // The request is this source's last reply, sent back within the window.
        let echoed = last.len == sent.len
            && last.digest == sent.digest
            && now.saturating_duration_since(last.at) < LOOP_WINDOW;
        let streak = if echoed { last.streak + 1 } else { 0 };
        if streak >= LOOP_STREAK {
            self.last.swap_remove_index(place);
            return true;
        }
        *last = Remembered { streak, ..sent };
        false
    }

    /// Starts tracking `to`, making room for it if the table is full.
    fn remember_new(&mut self, to: SocketAddr, sent: Remembered) {
        if self.last.len() >= MAX_TRACKED {
            self.make_room(sent.at);
        }
        self.last.insert(to, sent);
    }

    /// Forgets the sources older than the window (at most every [`SWEEP_EVERY`]), or, if all
    /// are fresh, of a few drawn at random, the one with the shortest streak, answered longest
    /// ago.
    fn make_room(&mut self, now: Instant) {
        let due = self
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY);
        if due {
            self.swept = Some(now);
            self.last
                .retain(|_, old| now.saturating_duration_since(old.at) < LOOP_WINDOW);
        }
        if self.last.len() < MAX_TRACKED {
            return;
        }
        let victim = self
            .draw()
            .into_iter()
            .filter_map(|place| Some((place, self.last.get_index(place)?.1)))
            .min_by_key(|(_, old)| (old.streak, old.at));
        if let Some((victim, _)) = victim {
            self.last.swap_remove_index(victim);
        }
    }

    /// [`EVICTION_SAMPLE`] places in the table (which is not empty), drawn from the keyed hash
    /// of the next count, spread by xorshift.
    fn draw(&mut self) -> [usize; EVICTION_SAMPLE] {
        self.draws += 1;
        // Never zero, which xorshift would keep.
        let mut bits = self.digests.hash_one(self.draws) | 1;
        let len = self.last.len() as u128;
        std::array::from_fn(|_| {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            // The high half of a 64 by 64 bit product: a place below `len`, near enough evenly.
            ((u128::from(bits) * len) >> 64) as usize
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`EchoLoops::is_loop`] at a time of the test's choosing.
    fn check(
        loops: &mut EchoLoops,
        to: SocketAddr,
        request: &[u8],
        reply: &[u8],
        now: Instant,
    ) -> bool {
        request == reply && loops.is_loop_at(to, reply, now)
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("address")
    }

    #[test]
    fn a_reply_sent_straight_back_again_and_again_is_a_loop() {
        let mut loops = EchoLoops::default();
        let peer = addr("127.0.0.2:5000");
        let start = Instant::now();
        let caught = (0..100).position(|i| {
            let now = start + Duration::from_micros(50 * i);
            check(&mut loops, peer, b"HELLO", b"HELLO", now)
        });
        assert_eq!(
            caught,
            Some(LOOP_STREAK as usize),
            "the first echo is the second datagram"
        );
        assert!(
            !check(
                &mut loops,
                peer,
                b"HELLO",
                b"HELLO",
                start + Duration::from_millis(6)
            ),
            "forgotten once caught: the next one starts afresh"
        );
    }

    #[test]
    fn clients_that_repeat_themselves_are_not_loops() {
        let start = Instant::now();
        let peer = addr("127.0.0.1:40000");
        let mut loops = EchoLoops::default();
        // Slower than the window: a person, a probe with a long interval.
        assert!(
            (0..100)
                .all(|i| { !check(&mut loops, peer, b"PING", b"PING", start + LOOP_WINDOW * i) })
        );
        // Each request different: a load generator.
        let mut loops = EchoLoops::default();
        assert!((0..100u32).all(|i| {
            let message = i.to_string();
            !check(
                &mut loops,
                peer,
                message.as_bytes(),
                message.as_bytes(),
                start,
            )
        }));
        // A request the transform changes: never a loop, whatever its pace.
        let mut loops = EchoLoops::default();
        assert!((0..100).all(|_| !check(&mut loops, peer, b"y", b"Y", start)));
        assert!(loops.last.is_empty(), "and nothing tracked for it");
        // A new source port for each message: the textbook's client, a probe.
        let mut loops = EchoLoops::default();
        assert!((0..100u16).all(|port| {
            let from = addr(&format!("127.0.0.1:{}", 40000 + port));
            !check(&mut loops, from, b"HI", b"HI", start)
        }));
    }

    #[test]
    fn a_pause_resets_the_streak() {
        let mut loops = EchoLoops::default();
        let peer = addr("[::1]:7000");
        let start = Instant::now();
        let mut now = start;
        for _ in 0..LOOP_STREAK - 1 {
            assert!(!check(&mut loops, peer, b"X", b"X", now));
            now += Duration::from_micros(10);
        }
        now += LOOP_WINDOW;
        assert!(
            !check(&mut loops, peer, b"X", b"X", now),
            "too late to be an echo"
        );
        for _ in 0..LOOP_STREAK - 1 {
            now += Duration::from_micros(10);
            assert!(!check(&mut loops, peer, b"X", b"X", now));
        }
        now += Duration::from_micros(10);
        assert!(check(&mut loops, peer, b"X", b"X", now));
    }

    #[test]
    fn a_flood_of_sources_cannot_grow_the_table_without_bound() {
        let mut loops = EchoLoops::default();
        let start = Instant::now();
        for n in 0..(2 * MAX_TRACKED) as u32 {
            let from = SocketAddr::from((n.to_be_bytes(), 9999));
            check(&mut loops, from, b"A", b"A", start);
        }
        assert_eq!(loops.last.len(), MAX_TRACKED);
        let later = start + LOOP_WINDOW;
        check(&mut loops, addr("192.0.2.1:1"), b"A", b"A", later);
        assert_eq!(loops.last.len(), 1, "stale sources make room");
    }

    #[test]
    fn a_table_full_of_fresh_sources_cannot_hide_a_loop() {
        let mut loops = EchoLoops::default();
        let start = Instant::now();
        let mut fresh = 0u32;
        let mut flood = |loops: &mut EchoLoops, count: u32, now: Instant| {
            for _ in 0..count {
                fresh += 1;
                let from = SocketAddr::from((fresh.to_be_bytes(), 9999));
                check(loops, from, b"A", b"A", now);
            }
        };
        flood(&mut loops, MAX_TRACKED as u32, start);
        // The loop starts with the table full, and new sources keep coming between its turns.
        let peer = addr("192.0.2.7:7");
        let caught = (0..2 * LOOP_STREAK).position(|round| {
            let now = start + Duration::from_millis(u64::from(round));
            let caught = check(&mut loops, peer, b"LOOP", b"LOOP", now);
            flood(&mut loops, 100, now);
            assert!(loops.last.len() <= MAX_TRACKED);
            caught
        });
        assert!(caught.is_some(), "the loop was tracked, and caught");
    }

    #[test]
    fn a_loop_amid_a_flood_is_caught_wherever_the_table_places_its_source() {
        // Each table keys its hashes afresh, so each places the loop's source elsewhere: a rule
        // that forgets a source for where it sits fails some of these.
        for table in 0..60 {
            let mut loops = EchoLoops::default();
            let mut clock = Instant::now();
            let mut fresh = 0u32;
            // Each datagram a microsecond after the one before, as a real clock reads.
            let mut flood = |loops: &mut EchoLoops, count: usize, clock: &mut Instant| {
                for _ in 0..count {
                    fresh += 1;
                    *clock += Duration::from_micros(1);
                    let from = SocketAddr::from((fresh.to_be_bytes(), 9999));
                    check(loops, from, b"A", b"A", *clock);
                }
            };
            flood(&mut loops, MAX_TRACKED, &mut clock);
            let peer = addr("192.0.2.7:7");
            // 300 new sources between the loop's turns: the table turns over every 14 turns.
            let caught = (0..2 * LOOP_STREAK).position(|_| {
                clock += Duration::from_micros(1);
                let caught = check(&mut loops, peer, b"LOOP", b"LOOP", clock);
                flood(&mut loops, 300, &mut clock);
                caught
            });
            assert!(caught.is_some(), "table {table}: the loop went uncaught");
        }
    }

    #[test]
    fn a_loop_with_a_service_a_second_away_is_caught() {
        let mut loops = EchoLoops::default();
        let peer = addr("203.0.113.9:7777");
        let start = Instant::now();
        let caught = (0..100u32).position(|i| {
            let now = start + Duration::from_millis(1_000 * u64::from(i));
            check(&mut loops, peer, b"SLOW", b"SLOW", now)
        });
        assert_eq!(caught, Some(LOOP_STREAK as usize));
    }
}
