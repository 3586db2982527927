//! [`Share`]: `--share I/N`, the I-th of N generators that send one `--rate` together, on one
//! schedule interleaved across them (k6's execution segments, in their simplest form).

use std::fmt;
use std::str::FromStr;

/// The most generators one rate is shared by: more than any fleet, and small enough that a
/// slot's number cannot lose precision in the schedule's arithmetic.
const MAX_GENERATORS: u32 = 1_000_000;

/// The I-th of N shares: of the rate's slots `0, 1, 2, …`, this generator sends those whose
/// number is `I - 1` modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// From 1 to `of`.
    pub index: u32,
    /// How many generators share the rate.
    pub of: u32,
}

impl Share {
    /// The whole rate: one generator alone.
    pub const WHOLE: Share = Share { index: 1, of: 1 };
}

impl FromStr for Share {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const FORM: &str = "write I/N, the I-th of N generators, with 1 <= I <= N, like 2/3";
        let (index, of) = text.trim().split_once('/').ok_or(FORM)?;
        let number = |part: &str| part.trim().parse::<u32>().map_err(|_| FORM.to_owned());
        let (index, of) = (number(index)?, number(of)?);
        if of == 0 || of > MAX_GENERATORS {
            return Err(format!("N must be from 1 to {MAX_GENERATORS}; {FORM}"));
        }
        if index == 0 || index > of {
            return Err(format!("I must be from 1 to N ({of}); {FORM}"));
        }
        Ok(Share { index, of })
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_and_bad_ones_say_how() {
        assert_eq!("2/3".parse(), Ok(Share { index: 2, of: 3 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Share::WHOLE));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/3", "1/2000000", ""] {
            assert!(bad.parse::<Share>().is_err(), "{bad}");
        }
        assert_eq!(Share { index: 2, of: 3 }.to_string(), "2/3");
    }
}
