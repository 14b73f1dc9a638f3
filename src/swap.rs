//! A value that many readers load and one writer replaces whole: the
//! policies in force, the tenancy snapshot, the serving certificate.
//!
//! Readers get an `Arc` of the current value and keep a consistent view for
//! as long as they hold it; a replacement never waits for them to finish.
//! Built on `arc-swap`: a load is a few atomic operations, with no lock that
//! every request would contend on (or that a panicking writer could poison).

use std::sync::Arc;

use arc_swap::ArcSwap;

#[derive(Debug)]
pub struct Swap<T>(ArcSwap<T>);

impl<T> Swap<T> {
    pub fn new(v: T) -> Self {
        Self::from_arc(Arc::new(v))
    }

    pub fn from_arc(v: Arc<T>) -> Self {
        Swap(ArcSwap::new(v))
    }

    /// The current value.
    pub fn load(&self) -> Arc<T> {
        self.0.load_full()
    }

    pub fn store(&self, v: T) {
        self.store_arc(Arc::new(v));
    }

    pub fn store_arc(&self, v: Arc<T>) {
        self.0.store(v);
    }
}

impl<T: Default> Default for Swap<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_their_view() {
        let s = Swap::new(1);
        let before = s.load();
        s.store(2);
        assert_eq!((*before, *s.load()), (1, 2));
    }

    #[test]
    fn concurrent_readers_see_whole_values() {
        let s = Arc::new(Swap::new((0u64, 0u64)));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let v = s.load();
                        assert_eq!(v.0, v.1, "a torn value");
                    }
                })
            })
            .collect();
        for i in 1..=1_000 {
            s.store((i, i));
        }
        for r in readers {
            assert!(r.join().is_ok());
        }
        assert_eq!(*s.load(), (1_000, 1_000));
    }
}
