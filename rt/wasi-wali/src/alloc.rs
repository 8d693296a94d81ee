//! The module's global allocator: power-of-two size classes with free lists, carved from
//! memory taken with `memory.grow`. Big blocks (above [`MAX_CLASS`]) are whole 64 KiB pages,
//! kept on one free list and reused first-fit. Single-threaded, as this module is.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

const PAGE: usize = 65536;
const MIN_CLASS: usize = 16;
const MAX_CLASS: usize = 32768;
const CLASSES: usize = 12; // 16 B .. 32 KiB

struct Big {
    size: usize,
    next: *mut Big,
}

struct State {
    free: [*mut u8; CLASSES],
    big: *mut Big,
    /// Bump region for small blocks.
    next: usize,
    end: usize,
}

pub struct Allocator(UnsafeCell<State>);

// Only one thread ever runs this module.
unsafe impl Sync for Allocator {}

impl Allocator {
    pub const fn new() -> Allocator {
        Allocator(UnsafeCell::new(State {
            free: [null_mut(); CLASSES],
            big: null_mut(),
            next: 0,
            end: 0,
        }))
    }
}

fn grow(bytes: usize) -> *mut u8 {
    let pages = bytes.div_ceil(PAGE);
    let old = core::arch::wasm32::memory_grow(0, pages);
    if old == usize::MAX {
        return null_mut();
    }
    (old * PAGE) as *mut u8
}

fn class_of(size: usize) -> usize {
    let size = size.max(MIN_CLASS).next_power_of_two();
    (size.trailing_zeros() - MIN_CLASS.trailing_zeros()) as usize
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = unsafe { &mut *self.0.get() };
        let size = layout.size().max(layout.align());
        if size <= MAX_CLASS {
            let c = class_of(size);
            let head = s.free[c];
            if !head.is_null() {
                s.free[c] = unsafe { *(head as *mut *mut u8) };
                return head;
            }
            let bytes = MIN_CLASS << c;
            // Blocks of a class are aligned to their size: the bump pointer advances in
            // multiples of it from a page boundary.
            let start = s.next.next_multiple_of(bytes);
            if start + bytes > s.end {
                let region = grow(PAGE);
                if region.is_null() {
                    return null_mut();
                }
                s.next = region as usize;
                s.end = region as usize + PAGE;
                return unsafe { self.alloc(layout) };
            }
            s.next = start + bytes;
            return start as *mut u8;
        }
        if layout.align() > PAGE {
            return null_mut();
        }
        let bytes = size.next_multiple_of(PAGE);
        let mut link: *mut *mut Big = &mut s.big;
        unsafe {
            while !(*link).is_null() {
                let b = *link;
                if (*b).size >= bytes {
                    *link = (*b).next;
                    // Split: the rest goes back on the list, so every block handed out
                    // is exactly the size its dealloc will name.
                    let rest = (*b).size - bytes;
                    if rest > 0 {
                        let r = (b as *mut u8).add(bytes) as *mut Big;
                        (*r).size = rest;
                        (*r).next = s.big;
                        s.big = r;
                    }
                    return b as *mut u8;
                }
                link = &mut (*b).next;
            }
        }
        grow(bytes)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let s = unsafe { &mut *self.0.get() };
        let size = layout.size().max(layout.align());
        if size <= MAX_CLASS {
            let c = class_of(size);
            unsafe { *(ptr as *mut *mut u8) = s.free[c] };
            s.free[c] = ptr;
            return;
        }
        let b = ptr as *mut Big;
        unsafe {
            (*b).size = size.next_multiple_of(PAGE);
            (*b).next = s.big;
        }
        s.big = b;
    }
}
