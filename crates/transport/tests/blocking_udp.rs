//! [`BlockingUdp`] over real sockets on 127.0.0.1 and ::1: batches, replies, and stopping.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use upcase_transport::{Answer, BlockingUdp, ServerSocket, Sharing, Transport, Udp};

/// How long a test waits for anything before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

fn bind(at: &str) -> BlockingUdp {
    let bound = Udp
        .bind_socket(at.parse().expect("a literal address"), Sharing::Exclusive)
        .expect("bind on loopback");
    BlockingUdp::new(bound).expect("a blocking socket")
}

/// A client socket on `at`, connected to `server`, that gives up on a reply after `PATIENCE`.
fn client(at: &str, server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind(at).expect("bind");
    socket.connect(server).expect("connect");
    socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
    socket
}

fn upper(request: &[u8]) -> Vec<u8> {
    request.to_ascii_uppercase()
}

/// Serves `socket` on a thread until it is stopped, answering with `upper`; the receiver gets
/// how many datagrams each batch held, and then the thread's end.
fn serve(socket: BlockingUdp) -> mpsc::Receiver<Option<usize>> {
    serve_named(socket, "udp-serve").1
}

/// [`serve`], on a thread named `name` and a number of its own (at most 15 bytes in all, the
/// kernel's limit); that name, and the receiver.
fn serve_named(mut socket: BlockingUdp, name: &str) -> (String, mpsc::Receiver<Option<usize>>) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "{name}-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let (report, reports) = mpsc::channel();
    let spawned = thread::Builder::new().name(name.clone()).spawn(move || {
        loop {
            let mut held = 0;
            let more = socket
                .answer_batch(|datagram| {
                    held += 1;
                    Answer::Reply(upper(datagram.payload))
                })
                .expect("a batch served");
            let _ = report.send(Some(held));
            if !more {
                let _ = report.send(None);
                return;
            }
        }
    });
    spawned.expect("a serving thread");
    (name, reports)
}

/// Elsewhere the kernel's numbering differs: long enough, most likely, for the thread to be
/// asleep.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn wait_until_asleep_in_receive(_name: &str) {
    thread::sleep(Duration::from_millis(100));
}

/// The system call number of `recvmmsg`, as `/proc/.../syscall` shows it.
#[cfg(target_arch = "x86_64")]
const RECVMMSG: &str = "299";
#[cfg(target_arch = "aarch64")]
const RECVMMSG: &str = "243";

/// Waits until the thread named `name` of this process sleeps in `recvmmsg`, as the kernel
/// reports it (`/proc/self/task/TID/stat` state `S`, `/proc/self/task/TID/syscall` the call),
/// or fails the test after [`PATIENCE`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn wait_until_asleep_in_receive(name: &str) {
    let asleep = || -> Option<()> {
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // The state follows the name in parentheses, which may hold spaces.
            let state = stat.rsplit_once(") ")?.1.split(' ').next()?;
            let syscall = std::fs::read_to_string(path.join("syscall")).ok()?;
            let call = syscall.split(' ').next()?;
            return (state == "S" && call == RECVMMSG).then_some(());
        }
        None
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    while asleep().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never slept in recvmmsg"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for the serving thread to end, or fails the test.
fn wait_for_end(reports: &mpsc::Receiver<Option<usize>>) {
    loop {
        match reports.recv_timeout(PATIENCE) {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(error) => panic!("the serving thread did not stop: {error}"),
        }
    }
}

#[test]
fn answers_each_datagram_over_ipv4_and_ipv6() {
    for at in ["127.0.0.1:0", "[::1]:0"] {
        let socket = bind(at);
        let server = socket.local_addr().expect("address");
        let stopper = socket.stopper();
        let reports = serve(socket);
        let client = client(at, server);
        let mut buf = [0; 64];
        for message in [&b"hello"[..], b"", b"twice"] {
            client.send(message).expect("send");
            let n = client.recv(&mut buf).expect("a reply");
            assert_eq!(&buf[..n], upper(message), "{at}");
        }
        stopper.stop();
        wait_for_end(&reports);
    }
}

#[test]
fn datagrams_queued_together_are_taken_and_answered_in_batches_of_64() {
    let mut socket = bind("127.0.0.1:0");
    let server = socket.local_addr().expect("address");
    let client = client("127.0.0.1:0", server);
    assert_eq!(burst(&mut socket, &client, 100), [64, 36]);
}

/// Sends `count` datagrams at once, has `socket` answer them, and returns how many each batch
/// held, after checking each datagram's source and every reply.
fn burst(socket: &mut BlockingUdp, client: &UdpSocket, count: usize) -> Vec<usize> {
    for i in 0..count {
        client.send(format!("n{i}").as_bytes()).expect("send");
    }
    let source = client.local_addr().expect("address");
    let mut batches = Vec::new();
    while batches.iter().sum::<usize>() < count {
        let mut held = 0;
        let more = socket
            .answer_batch(|datagram| {
                assert_eq!(datagram.from, source);
                held += 1;
                Answer::Reply(upper(datagram.payload))
            })
            .expect("a batch served");
        assert!(more, "not stopped");
        batches.push(held);
    }
    let mut buf = [0; 16];
    for i in 0..count {
        let n = client.recv(&mut buf).expect("a reply");
        assert_eq!(&buf[..n], format!("N{i}").as_bytes(), "replies in order");
    }
    batches
}

#[test]
fn after_small_batches_a_receive_offers_fewer_slots_and_grows_back_under_a_burst() {
    let mut socket = bind("127.0.0.1:0");
    let server = socket.local_addr().expect("address");
    let client = client("127.0.0.1:0", server);
    assert_eq!(burst(&mut socket, &client, 1), [1]);
    assert_eq!(burst(&mut socket, &client, 100), [8, 16, 32, 44]);
    assert_eq!(burst(&mut socket, &client, 100), [64, 36], "grown back");
    assert_eq!(burst(&mut socket, &client, 3), [3]);
    assert_eq!(burst(&mut socket, &client, 20), [8, 12]);
}

#[test]
fn a_datagram_answered_with_none_gets_no_reply_and_the_others_do() {
    let mut socket = bind("[::1]:0");
    let server = socket.local_addr().expect("address");
    let client = client("[::1]:0", server);
    for message in ["keep 1", "drop", "keep 2"] {
        client.send(message.as_bytes()).expect("send");
    }
    let mut answered = 0;
    while answered < 3 {
        socket
            .answer_batch(|datagram| {
                answered += 1;
                if datagram.payload.starts_with(b"drop") {
                    Answer::Silence
                } else {
                    Answer::Reply(upper(datagram.payload))
                }
            })
            .expect("a batch served");
    }
    let mut buf = [0; 16];
    for expected in [&b"KEEP 1"[..], b"KEEP 2"] {
        let n = client.recv(&mut buf).expect("a reply");
        assert_eq!(&buf[..n], expected);
    }
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    assert!(
        client.recv(&mut buf).is_err(),
        "nothing for the dropped one"
    );
}

#[test]
fn stop_wakes_a_socket_that_waits_for_datagrams() {
    let socket = bind("127.0.0.1:0");
    let stopper = socket.stopper();
    let (name, reports) = serve_named(socket, "udp-stop");
    // Stopped while asleep in its receive, as the kernel says it is: the case the stop must
    // wake, rather than one it would find before it waits.
    wait_until_asleep_in_receive(&name);
    stopper.stop();
    assert_eq!(
        reports.recv_timeout(PATIENCE).expect("woken"),
        Some(0),
        "an empty last batch"
    );
    wait_for_end(&reports);
}

#[test]
fn a_socket_stopped_before_it_waits_returns_at_once() {
    let socket = bind("[::1]:0");
    socket.stopper().stop();
    let reports = serve(socket);
    assert_eq!(reports.recv_timeout(PATIENCE).expect("no wait"), Some(0));
    wait_for_end(&reports);
}
