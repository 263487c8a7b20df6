//! Times the load and funnel phases on a Parquet file, without Python, for profiling:
//! `FUNNEL_TIMING=1 cargo run --release -p funnel_core --features phase-timing --example timing -- FILE [REPEAT]`
//! (`RUNS=n` sets the number of funnel runs).

use std::path::PathBuf;
use std::time::Instant;

use funnel_core::funnel::{run_funnel, FunnelSpec, Mode, StepConditions};
use funnel_core::log::{encode_parquet, EncodeOptions, LogColumns};
use funnel_core::Control;

// As the Python module has it, so the phases cost here what they cost there.
#[global_allocator]
static ALLOCATOR: funnel_core::memory::HugePages = funnel_core::memory::HugePages;

const STEPS: [&str; 5] = [
    "view_item",
    "add_to_cart",
    "begin_checkout",
    "add_payment_info",
    "purchase",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: timing FILE [REPEAT]")?);
    let repeat: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let columns = LogColumns {
        user: "user_id",
        event: "event",
        time: "ts",
    };
    let control = Control::new();
    let mut log = None;
    for _ in 0..repeat {
        drop(log.take());
        let t0 = Instant::now();
        log = Some(encode_parquet(
            std::slice::from_ref(&path),
            columns,
            EncodeOptions::default(),
            &control,
        )?);
        println!("load {:8.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    }
    let log = log.ok_or("no repeat")?;
    let codes = STEPS
        .iter()
        .map(|s| log.event_code(s).map(|c| vec![c]).ok_or("missing step"))
        .collect::<Result<Vec<_>, _>>()?;
    let conditions = StepConditions {
        event_codes: codes,
        row_filters: Vec::new(),
    };
    let spec = FunnelSpec::new(5, 86_400_000, Mode::default())?;
    let end = log.time_range().map_or(0, |r| r.1);
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(repeat * 4);
    for _ in 0..runs {
        let t0 = Instant::now();
        let out = run_funnel(&log, &spec, &conditions, end, &control)?;
        let counts = out.level_counts(5);
        log.recycled.put_output(out);
        println!(
            "run  {:8.2} ms {counts:?}",
            t0.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
