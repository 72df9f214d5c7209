//! Resident memory of a process, from `/proc/<pid>/status` (`VmRSS`).

use std::fs;

/// Resident set size of this process in bytes, or `None` where `/proc` is unavailable.
pub fn self_rss() -> Option<u64> {
    parse_vm_rss(&fs::read_to_string("/proc/self/status").ok()?)
}

/// Resident set size of process `pid` in bytes.
pub fn pid_rss(pid: u32) -> Option<u64> {
    parse_vm_rss(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Gives the memory the allocator keeps after frees back to the OS (glibc's `malloc_trim`), so
/// that a target measured after another one in the same process starts from a clean heap
/// instead of reusing what the first one freed (which made RSS deltas undercount it).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` takes no pointers; it only returns free heap pages to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Extracts `VmRSS` (in kB in the file) from the text of `/proc/<pid>/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kilobytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn own_rss_is_nonzero_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(self_rss().unwrap_or(0) > 0);
        }
    }
}
