//! What the process collector exposes, read from /proc with `procfs` (Linux).

/// The process's CPU time, memory, descriptors and start, as Prometheus's process collector
/// names them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Process {
    /// User and system CPU time, in seconds.
    pub(crate) cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub(crate) resident_bytes: u64,
    /// Descriptors open now.
    pub(crate) open_fds: u64,
    /// The soft limit on descriptors; `u64::MAX` when there is none.
    pub(crate) max_fds: u64,
    /// When the process started, in seconds since the Unix epoch.
    pub(crate) start_time_seconds: f64,
}

impl Process {
    /// This process now; `None` where /proc cannot say (another system, a /proc not mounted).
    #[cfg(target_os = "linux")]
    pub(crate) fn read() -> Option<Self> {
        use procfs::process::{LimitValue, Process as Proc};

        let myself = Proc::myself().ok()?;
        let stat = myself.stat().ok()?;
        let ticks = procfs::ticks_per_second() as f64;
        let boot = procfs::boot_time_secs().ok()? as f64;
        let max_fds = match myself.limits().ok()?.max_open_files.soft_limit {
            LimitValue::Value(n) => n,
            LimitValue::Unlimited => u64::MAX,
        };
        Some(Self {
            cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
            resident_bytes: stat.rss * procfs::page_size(),
            open_fds: myself.fd_count().ok()? as u64,
            max_fds,
            start_time_seconds: boot + stat.starttime as f64 / ticks,
        })
    }

    /// Elsewhere, nothing.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read() -> Option<Self> {
        None
    }
}
