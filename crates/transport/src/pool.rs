//! One pool of byte buffers per thread, for the buffers that live only while a connection is
//! busy: its reads, and the server's replies.
//!
//! With many connections each sending a little, a buffer passes from one to the next instead of
//! being allocated and freed for every request, and an idle connection holds none.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

/// Most buffers a thread keeps: one for a connection's read and one for its reply, which is
/// what a thread serving one request at a time needs.
const KEPT: usize = 2;

/// Largest buffer kept; a bigger one, made for a rare large reply, is freed.
const LARGEST_KEPT: usize = 64 * 1024;

thread_local! {
    /// The newest spare first. Two plain cells rather than a list or a count: a request takes
    /// and puts down two buffers, and this is on its path.
    static SPARE: [Cell<Vec<u8>>; KEPT] = const { [const { Cell::new(Vec::new()) }; KEPT] };
}

/// A reply's buffer from the thread's pool, which a connection reading through the transport
/// draws on too: given back when dropped, so that a connection holds one only while it answers
/// and an idle connection holds none.
#[derive(Debug, Default)]
pub struct ReplyBuf(Vec<u8>);

impl ReplyBuf {
    /// An empty buffer: one given back earlier on this thread, or a new one with no memory yet.
    #[inline]
    pub fn new() -> Self {
        Self(take())
    }
}

impl Deref for ReplyBuf {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for ReplyBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for ReplyBuf {
    #[inline]
    fn drop(&mut self) {
        put(std::mem::take(&mut self.0));
    }
}

/// An empty buffer: one put down earlier on this thread, or a new one with no memory yet.
#[inline]
pub(crate) fn take() -> Vec<u8> {
    SPARE.with(|[newest, older]| {
        let buffer = newest.take();
        if buffer.capacity() > 0 {
            buffer
        } else {
            older.take()
        }
    })
}

/// Puts `buffer` down for the next [`take`] on this thread; the thread keeps the two it was
/// given last.
#[inline]
pub(crate) fn put(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > LARGEST_KEPT {
        return;
    }
    buffer.clear();
    SPARE.with(|[newest, older]| {
        let was_newest = newest.replace(buffer);
        if was_newest.capacity() > 0 {
            // The oldest of three goes back to the allocator.
            drop(older.replace(was_newest));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{KEPT, put, take};

    #[test]
    fn a_buffer_put_down_is_taken_again_empty_with_its_memory() {
        let mut buffer = Vec::with_capacity(100);
        buffer.extend_from_slice(b"old");
        let at = buffer.as_ptr();
        put(buffer);
        let again = take();
        assert_eq!((again.as_ptr(), again.len()), (at, 0));
        assert!(again.capacity() >= 100);
    }

    #[test]
    fn the_pool_keeps_a_few_modest_buffers() {
        put(Vec::with_capacity(1 << 20));
        assert_eq!(take().capacity(), 0, "a huge buffer is freed");
        for _ in 0..KEPT + 2 {
            put(Vec::with_capacity(10));
        }
        let kept = (0..KEPT + 2).filter(|_| take().capacity() > 0).count();
        assert_eq!(kept, KEPT);
    }
}
