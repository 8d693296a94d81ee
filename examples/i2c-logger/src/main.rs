//! Reads a BME280 on a granted I2C bus every N milliseconds and prints one JSON line per
//! reading. The driver is the published `bme280` crate, unchanged.
//!
//! Usage: `i2c-logger [BUS_LABEL] [COUNT] [INTERVAL_MS]` (defaults: `sensors`, 3, 1000).

use std::process::ExitCode;

use bme280::i2c::BME280;
use embedded_hal::delay::DelayNs;
use wafer_sdk::{Delay, I2cBus};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> Result<T, String> {
    match args.get(i) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("bad argument {s:?}")),
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let label = args.get(1).cloned().unwrap_or_else(|| "sensors".into());
    let count: u32 = arg(&args, 2, 3)?;
    let interval_ms: u32 = arg(&args, 3, 1000)?;

    let bus = I2cBus::open(&label).map_err(|e| format!("open {label}: {e:?}"))?;
    let mut delay = Delay::new();
    let mut sensor = BME280::new_primary(bus);
    sensor
        .init(&mut delay)
        .map_err(|e| format!("bme280 init: {e:?}"))?;
    for i in 0..count {
        if i > 0 {
            delay.delay_ms(interval_ms);
        }
        let m = sensor
            .measure(&mut delay)
            .map_err(|e| format!("bme280 measure: {e:?}"))?;
        println!(
            "{{\"seq\":{i},\"temperature_c\":{:.2},\"pressure_hpa\":{:.2},\"humidity_pct\":{:.2}}}",
            m.temperature,
            m.pressure / 100.0,
            m.humidity
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("i2c-logger: {e}");
            ExitCode::FAILURE
        }
    }
}
