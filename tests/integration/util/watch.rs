//! [`LogWatch`]: a server's log read line by line as it comes.

use super::PATIENCE;

/// A server's log, line by line as it comes, for tests that wait for a line.
pub struct LogWatch {
    lines: std::sync::mpsc::Receiver<String>,
    /// Everything read so far.
    pub seen: String,
}

impl LogWatch {
    pub fn new(lines: std::sync::mpsc::Receiver<String>) -> Self {
        LogWatch {
            lines,
            seen: String::new(),
        }
    }

    /// Waits until a line containing `needle` comes, or [`PATIENCE`] passes; returns the line.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let start = std::time::Instant::now();
        while let Some(left) = PATIENCE.checked_sub(start.elapsed()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?} in:\n{}", self.seen);
    }

    /// The whole log, once the server has exited and closed it.
    pub fn rest(mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.seen.push_str(&line);
        }
        self.seen
    }
}
