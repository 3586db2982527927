//! One pool of byte buffers per thread, for the buffers that live only while a connection is
//! busy: its reads, and the server's replies.
//!
//! With many connections each sending a little, a buffer passes from one to the next instead of
//! being allocated and freed for every request, and an idle connection holds none.

use std::cell::RefCell;

/// Most buffers a thread keeps: one for the read under way and one for its reply, and room
/// for a second connection's.
const KEPT: usize = 4;

/// Largest buffer kept; a bigger one, made for a rare large reply, is freed.
const LARGEST_KEPT: usize = 64 * 1024;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer: one put down earlier on this thread, or a new one with no memory yet.
pub fn take() -> Vec<u8> {
    SPARE.with_borrow_mut(Vec::pop).unwrap_or_default()
}

/// Puts `buffer` down for the next [`take`] on this thread, unless the thread keeps enough.
pub fn put(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > LARGEST_KEPT {
        return;
    }
    buffer.clear();
    SPARE.with_borrow_mut(|spare| {
        if spare.len() < KEPT {
            spare.push(buffer);
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
