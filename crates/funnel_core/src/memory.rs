//! Large buffers ask the kernel for huge pages before their first touch.
//!
//! Buffers of tens of megabytes come fresh from the kernel (glibc maps them). With transparent
//! huge pages in `madvise` mode (Debian's default) only regions that ask get 2 MiB pages: 512
//! times fewer page faults on the first pass, and fewer TLB misses on every pass after it.

/// A vector of `len` zeros for a large buffer that is about to be filled. The allocation comes
/// fresh from the kernel, so its first touch page-faults once per page; asking for huge pages cuts
/// those faults 512-fold where the kernel has them to give.
pub(crate) fn big_zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    advise_huge_pages(v.as_ptr().cast(), len * std::mem::size_of::<T>());
    v
}

/// Room for `len` values, not yet written (no zeroing pass before a pass that writes them all).
pub(crate) fn big_uninit<T>(len: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(len);
    advise_huge_pages(v.as_ptr().cast(), len * std::mem::size_of::<T>());
    v
}

/// Ask for huge pages on a large allocation (of 8 MiB or more; smaller ones are left alone),
/// best before its pages are first touched.
#[cfg(target_os = "linux")]
pub(crate) fn advise_huge_pages(ptr: *const u8, bytes: usize) {
    const HUGE: usize = 2 << 20;
    if bytes < 4 * HUGE {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE);
    let end = (ptr as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: madvise only advises the kernel about whole pages inside the caller's
        // allocation; MADV_HUGEPAGE never changes their contents. A failure (no THP support)
        // is harmless and ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn advise_huge_pages(_ptr: *const u8, _bytes: usize) {}

/// The system allocator, asking for huge pages on every large allocation. Installed as the
/// global allocator of the Python module, it reaches buffers that other crates allocate and
/// fill at once (the Parquet reader's decoded columns, Arrow's builders), which
/// `advise_huge_pages` cannot: by the time they are handed over, their pages are touched.
pub struct HugePages;

// SAFETY: every call is forwarded to `System` with the same arguments; the advice given
// afterwards changes no contents and no ownership.
unsafe impl std::alloc::GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let ptr = unsafe { std::alloc::System.alloc(layout) };
        if !ptr.is_null() {
            advise_huge_pages(ptr, layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        let ptr = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            advise_huge_pages(ptr, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let grown = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !grown.is_null() && new_size > layout.size() {
            advise_huge_pages(grown, new_size);
        }
        grown
    }
}
