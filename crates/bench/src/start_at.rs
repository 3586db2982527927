//! [`StartAt`]: `--start-at TIME|+D`, when a run's load starts, so that generators started
//! apart (by hand, by a scheduler) load together: at an RFC 3339 time, or at the next whole
//! second at least `D` from now (the same second on every machine whose clock is in sync).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The latest start taken: a start further off is a typing error more likely than a plan.
const LATEST: Duration = Duration::from_secs(24 * 3600);

/// When the load starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// At this time.
    At(SystemTime),
    /// At the next whole second at least this far from now.
    After(Duration),
}

impl FromStr for StartAt {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(offset) = text.strip_prefix('+') {
            return offset
                .trim()
                .parse::<humantime::Duration>()
                .map(|d| StartAt::After(d.into()))
                .map_err(|_| format!("`{offset}` is no duration; write +D like +5s"));
        }
        let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|error| {
            format!("{error}: write an RFC 3339 time like 2026-12-07T10:00:00Z, or +D like +5s")
        })?;
        Ok(StartAt::At(SystemTime::from(at)))
    }
}

impl fmt::Display for StartAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartAt::At(at) => write!(f, "{}", humantime::format_rfc3339_nanos(*at)),
            StartAt::After(d) => write!(f, "+{}", humantime::format_duration(*d)),
        }
    }
}

impl StartAt {
    /// The start as a time, seen at `now`.
    ///
    /// # Errors
    /// A sentence for a time that has passed or is more than a day away.
    pub fn resolve(&self, now: SystemTime) -> Result<SystemTime, String> {
        let at = match *self {
            StartAt::At(at) => at,
            StartAt::After(offset) => next_whole_second(now + offset),
        };
        match at.duration_since(now) {
            Err(past) => Err(format!(
                "--start-at {self}: that was {:.1} s ago (is this machine's clock in sync?)",
                past.duration().as_secs_f64()
            )),
            Ok(ahead) if ahead > LATEST => {
                Err(format!("--start-at {self}: that is more than a day away"))
            }
            Ok(_) => Ok(at),
        }
    }
}

/// `at` rounded up to a whole second since the epoch.
fn next_whole_second(at: SystemTime) -> SystemTime {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    UNIX_EPOCH + Duration::from_secs(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets_parse_in_every_spelling() {
        let utc: StartAt = "2026-12-07T10:00:00Z".parse().expect("UTC");
        let offset: StartAt = "2026-12-07T11:00:00+01:00".parse().expect("offset");
        let fraction: StartAt = "2026-12-07T10:00:00.000Z".parse().expect("fraction");
        assert_eq!(utc, offset);
        assert_eq!(utc, fraction);
        assert_eq!("+5s".parse(), Ok(StartAt::After(Duration::from_secs(5))));
        for bad in [
            "tomorrow",
            "+",
            "+5",
            "2026-12-07",
            "2026-12-07 10:00:00",
            "",
        ] {
            assert!(bad.parse::<StartAt>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_offset_starts_on_the_next_whole_second_and_the_past_is_refused() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_000_300);
        let at = StartAt::After(Duration::from_secs(2)).resolve(now);
        assert_eq!(at, Ok(UNIX_EPOCH + Duration::from_secs(1_000_003)));
        let past = StartAt::At(now - Duration::from_secs(3)).resolve(now);
        assert!(past.is_err_and(|why| why.contains("3.0 s ago")));
        let far = StartAt::After(Duration::from_secs(2 * 24 * 3600)).resolve(now);
        assert!(far.is_err());
    }
}
