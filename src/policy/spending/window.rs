//! The rolling 24-hour window of one key's spends, and the ledger's clock.
//!
//! Owns: the arithmetic (overflow-checked: a sum that overflows is over every limit) and the
//! clock rule: the ledger's time is the later of the wall clock and its newest entry, so a
//! clock set back can never revive spent budget (entries "from the future" count until the
//! ledger's time has passed them by a day). Pure.

use std::collections::VecDeque;

/// The window's length in seconds.
pub(super) const DAY_SECS: u64 = 24 * 60 * 60;

/// An entry further ahead of the wall clock than this is not a clock set back but damage.
pub(super) const MAX_AHEAD_SECS: u64 = 366 * DAY_SECS;

/// The wall clock, in seconds since the Unix epoch.
pub(super) fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `amount` more than `spent` (`None`: overflowed) stays within `limit`.
pub(super) fn fits(spent: Option<u128>, amount: u128, limit: u128) -> bool {
    spent
        .and_then(|s| s.checked_add(amount))
        .is_some_and(|total| total <= limit)
}

/// One key's spends in time order, with their running sum (O(1) per spend, amortised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    entries: VecDeque<(u64, u128)>,
    /// `None` once a sum overflowed: nothing more fits.
    sum: Option<u128>,
}

impl Default for Window {
    /// Empty, summing to 0.
    fn default() -> Window {
        Window::new()
    }
}

impl Window {
    pub fn new() -> Window {
        Window {
            entries: VecDeque::new(),
            sum: Some(0),
        }
    }

    /// Adds a spend at `at` (not before the newest entry: the caller's clock is monotonic).
    pub fn push(&mut self, at: u64, mutez: u128) {
        let at = at.max(self.newest().unwrap_or(0));
        self.entries.push_back((at, mutez));
        self.sum = self.sum.and_then(|s| s.checked_add(mutez));
    }

    /// Drops what fell out of the window at `now`.
    pub fn expire(&mut self, now: u64) {
        while let Some(&(at, mutez)) = self.entries.front() {
            if at.saturating_add(DAY_SECS) > now {
                break;
            }
            self.entries.pop_front();
            self.sum = match self.sum {
                Some(s) => Some(s - mutez),
                // Recount once the overflowing entries are gone.
                None => self
                    .entries
                    .iter()
                    .try_fold(0u128, |acc, (_, m)| acc.checked_add(*m)),
            };
        }
    }

    /// The sum within the window (call [`Window::expire`] first); `None` = overflowed.
    pub fn spent(&self) -> Option<u128> {
        self.sum
    }

    /// Whether `amount` more stays within `limit`.
    pub fn fits(&self, amount: u128, limit: u128) -> bool {
        fits(self.sum, amount, limit)
    }

    pub fn newest(&self) -> Option<u64> {
        self.entries.back().map(|(at, _)| *at)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u128)> + '_ {
        self.entries.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_sums_expires_and_never_wraps() {
        let t0 = 1_700_000_000;
        let mut w = Window::new();
        w.push(t0, 6);
        w.push(t0 + 10, 4);
        assert_eq!(w.spent(), Some(10));
        assert!(w.fits(15, 25) && !w.fits(16, 25));
        w.expire(t0 + DAY_SECS);
        assert_eq!(w.spent(), Some(4), "the first spend rolled out");
        // An entry written under a later clock keeps its place: pushes never go back in time.
        w.push(t0, 1);
        assert_eq!(w.newest(), Some(t0 + 10));
        // Overflow: nothing fits, and once the culprit is gone the sum is recounted.
        w.push(t0 + 20, u128::MAX);
        assert_eq!(w.spent(), None);
        assert!(!w.fits(0, u128::MAX));
        // An entry at u64::MAX never expires (saturating), so it never wraps to "old".
        assert_eq!(Window::default().spent(), Some(0), "empty sums to 0");
        let mut far = Window::new();
        far.push(u64::MAX, 5);
        far.expire(2_000_000_000);
        assert_eq!(far.spent(), Some(5));
        w.expire(t0 + 20 + DAY_SECS);
        assert!(w.is_empty());
        assert_eq!(w.spent(), Some(0));
    }
}
