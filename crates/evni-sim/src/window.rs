//! The analysed window and its 15-minute buckets (analysis.md §2).

/// Sessions longer than this are analysed on their last 6 h.
pub(crate) const WINDOW_S: i64 = 6 * 3600;
pub(crate) const BUCKET_S: i64 = 15 * 60;
pub(crate) const LAST_BUCKET: u32 = 23;

/// t0 and the last reading of the analysed window, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub t0: i64,
    pub last: i64,
}

impl Window {
    /// The window of a session given its reading timestamps (any order).
    pub fn of(timestamps: impl IntoIterator<Item = i64> + Clone) -> Option<Window> {
        let last = timestamps.clone().into_iter().max()?;
        let t0 = timestamps.into_iter().filter(|&t| t >= last - WINDOW_S).min()?;
        Some(Window { t0, last })
    }

    pub fn contains(&self, t: i64) -> bool {
        t >= self.t0 && t <= self.last
    }

    /// Bucket of a reading inside the window; a reading exactly 6 h after t0
    /// belongs to the last bucket.
    pub fn bucket(&self, t: i64) -> u32 {
        (((t - self.t0).max(0) / BUCKET_S) as u32).min(LAST_BUCKET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_relative_to_the_first_reading_of_the_window() {
        let w = Window::of([100, 100 + 3600, 100 + 7 * 3600]).unwrap();
        assert_eq!(w.t0, 100 + 3600);
        assert_eq!(w.bucket(w.t0 + BUCKET_S - 1), 0);
        assert_eq!(w.bucket(w.t0 + BUCKET_S), 1);
        assert_eq!(w.bucket(w.t0 + WINDOW_S), LAST_BUCKET);
    }
}
