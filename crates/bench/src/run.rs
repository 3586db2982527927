//! [`run`]: the load itself. Each thread runs a runtime of its own with its share of the
//! connections or sockets, and counts into its own [`Shard`]; threads meet twice, once all
//! their connections are set up (the load starts then, for all at once) and at the end, when
//! their tallies are added up. Between the two, nothing is shared but the start time, read
//! once.

use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock, mpsc};
use std::time::{Duration, SystemTime};

use tokio::task::LocalSet;
use tokio::time::{Instant, sleep_until};

use crate::error::BenchError;
use crate::load::{Load, Rated};
use crate::open::{Dialer, Opened, open_all, serve};
use crate::plan::Plan;
use crate::tally::{Shard, Tally};

/// The number of the interval that holds what came after the last whole one.
pub(crate) const REST: u64 = u64::MAX;

/// One interval of the load: its number from 1 (or [`REST`]), and what it counted.
#[derive(Debug, Clone)]
pub(crate) struct Interval {
    pub(crate) index: u64,
    pub(crate) tally: Tally,
}

/// One whole interval's good replies, for the picture of replies over time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntervalReplies {
    /// The interval's number, from 1.
    pub(crate) index: u64,
    pub(crate) replies: u64,
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) tally: Tally,
    /// How long the load was on.
    pub(crate) seconds: f64,
    /// Each interval's number and good replies (not its histogram: a long run has many).
    pub(crate) replies_by_interval: Vec<IntervalReplies>,
}

/// Makes the run, calling `each_interval` as each interval ends.
///
/// # Errors
/// [`BenchError::Io`] when a connection cannot be set up or fails during the run.
pub(crate) fn run(
    plan: &Plan,
    mut each_interval: impl FnMut(&Interval, SystemTime),
) -> Result<Outcome, BenchError> {
    let threads = plan.threads.clamp(1, plan.workers.max(1));
    let meet = Arc::new(Meeting {
        barrier: Barrier::new(threads),
        failed: AtomicBool::new(false),
        start: OnceLock::new(),
        wall: OnceLock::new(),
    });
    let (intervals_to, intervals) = mpsc::channel();
    let mut handles = Vec::with_capacity(threads);
    for thread in 0..threads {
        let (plan, meet, intervals_to) = (plan.clone(), Arc::clone(&meet), intervals_to.clone());
        let handle = std::thread::Builder::new()
            .name(format!("bench-{thread}"))
            .spawn(move || shard_thread(&plan, thread, threads, &meet, &intervals_to))
            .map_err(BenchError::Io)?;
        handles.push(handle);
    }
    drop(intervals_to);

    let mut pending: BTreeMap<u64, (usize, Tally)> = BTreeMap::new();
    let mut done = Vec::new();
    for Interval { index, tally } in intervals {
        let entry = pending
            .entry(index)
            .or_insert_with(|| (0, Tally::new(plan.rate.is_some())));
        entry.0 += 1;
        entry.1.add(&tally);
        if entry.0 == threads
            && let Some((_, tally)) = pending.remove(&index)
        {
            let interval = Interval { index, tally };
            // Set by the first thread past the barrier, before any interval can end.
            let began = meet.wall.get().copied().unwrap_or_else(SystemTime::now);
            each_interval(&interval, began);
            if index != REST {
                done.push(IntervalReplies {
                    index,
                    replies: interval.tally.replies,
                });
            }
        }
    }

    let tally = joined(plan, handles)?;
    let ended = Instant::now();
    let start = meet.start.get().copied().unwrap_or(ended);
    let seconds = match plan.duration {
        Some(duration) => duration.as_secs_f64(),
        None => ended
            .saturating_duration_since(start + plan.warmup)
            .as_secs_f64(),
    };
    Ok(Outcome {
        tally,
        seconds,
        replies_by_interval: done,
    })
}

/// Every thread's tally, added up, once each has ended; the first failure, if any.
fn joined(
    plan: &Plan,
    handles: Vec<std::thread::JoinHandle<io::Result<Tally>>>,
) -> Result<Tally, BenchError> {
    let mut tally = Tally::new(plan.rate.is_some());
    let mut failure = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok(shard)) => tally.add(&shard),
            Ok(Err(error)) => failure = Some(BenchError::Io(error)),
            Err(_) => failure = Some(BenchError::Failed("a load thread failed".into())),
        }
    }
    failure.map_or(Ok(tally), Err)
}

/// Where the threads meet.
struct Meeting {
    barrier: Barrier,
    /// Some thread could not set up its connections: none starts.
    failed: AtomicBool,
    /// When the load starts, set by the first thread past the barrier.
    start: OnceLock<Instant>,
    /// When the figures start (the warm-up over) by the wall clock, for logs that other
    /// machines' are merged with.
    wall: OnceLock<SystemTime>,
}

/// One thread's workers, once their sockets are open.
struct Workers<'a> {
    plan: &'a Plan,
    /// Which workers are this thread's.
    mine: &'a [usize],
    load: &'a Rc<Load>,
    shard: &'a Rc<Shard>,
}

impl Workers<'_> {
    /// Runs every worker to its end, with the interval ticker beside them.
    async fn run(self, sockets: Vec<Opened>, intervals: &mpsc::Sender<Interval>) -> io::Result<()> {
        let Workers {
            plan,
            mine,
            load,
            shard,
        } = self;
        // With --start-at, connections are set up before the time, and load only from it.
        sleep_until(load.start).await;
        let workers: Vec<_> = mine
            .iter()
            .zip(sockets)
            .map(|(&worker, socket)| {
                let (load, shard) = (Rc::clone(load), Rc::clone(shard));
                let (addr, dial) = (plan.addr, Dialer::of(plan));
                tokio::task::spawn_local(async move {
                    serve(socket, addr, &dial, &load, worker, &shard).await
                })
            })
            .collect();
        let next = std::cell::Cell::new(1);
        let outcome = tokio::select! {
            outcome = all_of(workers) => outcome,
            () = tick(load, plan.interval, shard, intervals, &next) => Ok(()),
        };
        // The load may end on an interval's edge before the ticker has passed it.
        if let Some(deadline) = load.deadline
            && load.from + plan.interval * next.get() <= deadline + plan.interval / 100
        {
            let _ = intervals.send(Interval {
                index: u64::from(next.get()),
                tally: shard.take_interval(),
            });
        }
        // What came after the last whole interval (replies still on their way at the end),
        // for the logs that must add up to the run; every thread sends one, empty or not.
        let _ = intervals.send(Interval {
            index: REST,
            tally: shard.take_interval(),
        });
        outcome
    }
}

/// Waits for every worker to run to its end; the first error is the run's.
async fn all_of(workers: Vec<tokio::task::JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut first = Ok(());
    for worker in workers {
        let outcome = match worker.await {
            Ok(outcome) => outcome,
            Err(error) => Err(io::Error::other(format!("a worker failed: {error}"))),
        };
        if first.is_ok() {
            first = outcome;
        }
    }
    first
}

/// One thread: sets up its workers' sockets, waits for the others, then loads.
fn shard_thread(
    plan: &Plan,
    thread: usize,
    threads: usize,
    meet: &Meeting,
    intervals: &mpsc::Sender<Interval>,
) -> io::Result<Tally> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let mine: Vec<usize> = (thread..plan.workers).step_by(threads).collect();
    let sockets = match &runtime {
        Ok(runtime) => runtime.block_on(open_all(plan, mine.len())),
        Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
    };
    if sockets.is_err() {
        meet.failed.store(true, Ordering::SeqCst);
    }
    meet.barrier.wait();
    let (runtime, sockets) = (runtime?, sockets?);
    if meet.failed.load(Ordering::SeqCst) {
        return Ok(Tally::new(false));
    }
    let start = *meet.start.get_or_init(|| starting(plan, meet));
    let from = start + plan.warmup;
    let load = Rc::new(Load {
        size: plan.size,
        check: plan.check,
        window: plan.window,
        timeout: plan.timeout,
        start,
        from,
        deadline: plan.duration.map(|duration| from + duration),
        rate: plan.rate.map(|per_second| Rated {
            per_second,
            share: plan.share,
            workers: plan.workers,
        }),
    });
    let requests = plan.requests.map(|requests| {
        let (each, extra) = (requests / threads as u64, requests % threads as u64);
        each + u64::from((thread as u64) < extra)
    });
    let shard = Shard::new(plan.rate.is_some(), requests, plan.interval_latency);
    let shard = Rc::new(if plan.warmup.is_zero() {
        shard
    } else {
        shard.warm_up_until(from, plan.timeout)
    });
    let local = LocalSet::new();
    let workers = Workers {
        plan,
        mine: &mine,
        load: &load,
        shard: &shard,
    };
    local.block_on(&runtime, workers.run(sockets, intervals))?;
    let shard = Rc::try_unwrap(shard).map_err(|_| io::Error::other("a worker outlived the run"))?;
    Ok(shard.whole.into_inner())
}

/// When the load starts: now, or at `--start-at` (the same moment on the monotonic clock); and
/// by the wall clock, when its figures start, for the log.
fn starting(plan: &Plan, meet: &Meeting) -> Instant {
    let (now, wall_now) = (Instant::now(), SystemTime::now());
    let (start, wall) = match plan.start_at {
        Some(at) => (now + at.duration_since(wall_now).unwrap_or_default(), at),
        None => (now, wall_now),
    };
    let _ = meet.wall.set(wall + plan.warmup);
    start
}

/// At the end of each interval, hands the interval's tally to the main thread; stops after the
/// last interval that ends within the load, or never with no end set. `next` is the number of
/// the next interval to hand over.
async fn tick(
    load: &Load,
    length: Duration,
    shard: &Shard,
    to: &mpsc::Sender<Interval>,
    next: &std::cell::Cell<u32>,
) {
    loop {
        let index = next.get();
        let edge = load.from + length * index;
        if load
            .deadline
            .is_some_and(|deadline| edge > deadline + length / 100)
        {
            std::future::pending::<()>().await;
        }
        sleep_until(edge).await;
        let sent = to.send(Interval {
            index: u64::from(index),
            tally: shard.take_interval(),
        });
        next.set(index + 1);
        if sent.is_err() {
            return;
        }
    }
}
