//! The daemon's global allocator: mimalloc, called the way `std` calls the
//! system's `malloc`.
//!
//! This is the crate's only `unsafe` code, and why: a `GlobalAlloc` is an
//! unsafe trait whose methods take raw pointers. The `mimalloc` crate's own
//! allocator sends every request through `mi_malloc_aligned`, even the
//! ordinary ones whose alignment plain `mi_malloc` already guarantees; for
//! blocks above 1 KiB whose size class is not a power of two, mimalloc then
//! takes its over-allocating path. On the proxy's path that is hyper's 8 KiB
//! read buffer and the boxed per-request future, every request: under
//! callgrind the aligned path cost 2.4 % of the daemon's instructions per
//! proxied request (lb-proxy/README.md). Like `std`'s `System` allocator, this
//! one uses the plain calls when the alignment is one every block already has,
//! and the aligned calls otherwise.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// Alignment of every mimalloc block of at least this many bytes (mimalloc's
/// `MI_MAX_ALIGN_SIZE`); smaller blocks are aligned to their size class, a
/// multiple of 8.
const PLAIN_ALIGN: usize = 16;

/// Whether plain `mi_malloc(size)` already satisfies `align`: Rust sizes are
/// multiples of their alignment, so `align <= size` puts the block in a size
/// class that is a multiple of `align` (up to 16).
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

/// mimalloc as `#[global_allocator]`.
pub struct MiMalloc;

// SAFETY: every method forwards to the mimalloc call with the same contract
// (`mi_malloc`/`mi_zalloc`/`mi_realloc` when `plain` says the block's natural
// alignment is enough, the `_aligned` variants otherwise), returns null on
// failure as `GlobalAlloc` requires, and frees only blocks mimalloc gave out.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: any size and power-of-two alignment is valid for mimalloc.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new block
        // keeps `layout.align()` either way.
        unsafe {
            if plain(layout.align(), new_size) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (size, alignment) the plain calls serve comes back aligned, over
    /// the size classes from 1 byte to 64 KiB; and reallocation keeps both
    /// the alignment and the contents.
    #[test]
    fn blocks_are_aligned_as_asked() {
        let a = MiMalloc;
        let mut sizes: Vec<usize> = (1..=256).collect();
        sizes.extend((257..=65_536).step_by(56));
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for &size in &sizes {
                let Ok(layout) = Layout::from_size_align(size.next_multiple_of(align), align)
                else {
                    continue;
                };
                // SAFETY: non-zero size; the block is freed below.
                let p = unsafe { a.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                // SAFETY: `p` holds `layout.size()` bytes.
                unsafe { p.write_bytes(0xa5, layout.size()) };
                let grown = layout.size() * 2 + 8;
                // SAFETY: `p` came from `alloc(layout)`; `grown` is non-zero.
                let q = unsafe { a.realloc(p, layout, grown) };
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0, "realloc size {grown} align {align}");
                // SAFETY: the first `layout.size()` bytes were copied over.
                let kept = unsafe { std::slice::from_raw_parts(q, layout.size()) };
                assert!(kept.iter().all(|&b| b == 0xa5));
                let z = Layout::from_size_align(layout.size(), align).expect("valid");
                // SAFETY: non-zero size.
                let zeroed = unsafe { a.alloc_zeroed(z) };
                assert_eq!(zeroed as usize % align, 0);
                // SAFETY: `zeroed` holds `z.size()` bytes.
                let zeros = unsafe { std::slice::from_raw_parts(zeroed, z.size()) };
                assert!(zeros.iter().all(|&b| b == 0));
                // SAFETY: both came from this allocator with these layouts.
                unsafe {
                    a.dealloc(q, Layout::from_size_align(grown, align).expect("valid"));
                    a.dealloc(zeroed, z);
                }
            }
        }
    }
}
