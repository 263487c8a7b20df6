//! Wall and CPU time of the phases of a load or a run, printed to stderr when the crate is built
//! with the `phase-timing` feature and `FUNNEL_TIMING` is set: what the profiles in
//! `benchmarks/README.md` were read with. Without the feature every call compiles to nothing.

/// A stopwatch over the phases of one call.
pub struct Phase {
    #[cfg(feature = "phase-timing")]
    since: (std::time::Instant, f64),
}

impl Phase {
    #[inline(always)]
    pub fn start() -> Self {
        Phase {
            #[cfg(feature = "phase-timing")]
            since: (std::time::Instant::now(), cpu_ms()),
        }
    }

    /// Print the time since the start or the previous lap, under `what`.
    #[inline(always)]
    pub fn lap(&mut self, what: &str) {
        #[cfg(feature = "phase-timing")]
        {
            if std::env::var_os("FUNNEL_TIMING").is_some() {
                let cpu = cpu_ms();
                eprintln!(
                    "  {what:14} wall {:7.1} ms  cpu {:7.1} ms",
                    self.since.0.elapsed().as_secs_f64() * 1e3,
                    cpu - self.since.1
                );
            }
            *self = Phase::start();
        }
        #[cfg(not(feature = "phase-timing"))]
        let _ = what;
    }
}

/// CPU time of the whole process (every thread), in milliseconds.
#[cfg(feature = "phase-timing")]
fn cpu_ms() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given; nothing else is read.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}
