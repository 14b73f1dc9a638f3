//! A value that many readers load and one writer replaces whole: the
//! policies in force, the tenancy snapshot, the serving certificate.
//!
//! Readers get an `Arc` of the current value and keep a consistent view for
//! as long as they hold it; a replacement never waits for them to finish.
//! A poisoned lock is recovered: the value behind it is always a whole one.

use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub struct Swap<T>(RwLock<Arc<T>>);

impl<T> Swap<T> {
    pub fn new(v: T) -> Self {
        Self::from_arc(Arc::new(v))
    }

    pub fn from_arc(v: Arc<T>) -> Self {
        Swap(RwLock::new(v))
    }

    /// The current value.
    pub fn load(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self, v: T) {
        self.store_arc(Arc::new(v));
    }

    pub fn store_arc(&self, v: Arc<T>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = v;
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
}
