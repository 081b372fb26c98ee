//! What the benchmark reads of a server process from /proc: its CPU time (utime + stime
//! of /proc/PID/stat) and its peak resident memory (VmHWM of /proc/PID/status, reset per
//! scenario through /proc/PID/clear_refs; VmRSS sampled where that reset is refused).

use std::time::Duration;

/// Clock ticks per second of /proc/PID/stat's times (`getconf CLK_TCK`; 100 on Linux in
/// practice). Asked of `getconf` because `sysconf` needs `unsafe`, which the workspace forbids.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// utime + stime, in ticks, from the text of /proc/PID/stat. The command name (field 2)
/// is in parentheses and may hold spaces: fields are counted after its closing one.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Vm…:` line of /proc/PID/status, in KiB.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// One server process, by its id.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pub pid: u32,
    pub ticks_per_second: u64,
}

impl Process {
    pub fn new(pid: u32) -> Self {
        Self {
            pid,
            ticks_per_second: clock_ticks(),
        }
    }

    /// CPU time used so far (user + system).
    pub fn cpu(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let ticks = parse_cpu_ticks(&stat)?;
        Some(Duration::from_secs_f64(
            ticks as f64 / self.ticks_per_second as f64,
        ))
    }

    fn status_kib(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        parse_status_kib(&status, key)
    }

    /// Resets the peak (VmHWM) to the current RSS; false when the kernel refuses.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    pub fn peak_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM")
    }

    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (cus (x) y) S 1 4242 4242 0 -1 4194304 1000 0 0 0 \
                    730 270 0 0 20 0 9 0 123 456 789";
        assert_eq!(parse_cpu_ticks(stat), Some(1000));
        assert_eq!(parse_cpu_ticks("4242 (cus) S 1"), None);
    }

    #[test]
    fn status_values_are_read_in_kib() {
        let status = "Name:\tcus\nVmPeak:\t  900 kB\nVmHWM:\t   53124 kB\nVmRSS:\t   41000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(53124));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(41000));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }
}
