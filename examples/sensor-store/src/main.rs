//! Reads an LM75 temperature sensor and keeps the latest reading in a 24C02 EEPROM on the same
//! bus, so the next run can report what the previous one saw. Both drivers are published
//! crates (`lm75`, `eeprom24x`), used unchanged through wafer's embedded-hal implementation.
//!
//! Usage: `sensor-store [BUS_LABEL]` (default `sensors`). Prints one JSON line.

use std::process::ExitCode;

use eeprom24x::{Eeprom24x, SlaveAddr};
use embedded_hal::delay::DelayNs;
use lm75::Lm75;
use wafer_sdk::{Delay, I2cBus};

const LM75_ADDRESS: u8 = 0x48;
/// Where the record lives in the EEPROM: the start of a page, so one page write holds it.
const RECORD_ADDRESS: u32 = 0x10;
const RECORD_MARK: u8 = b'T';
/// The 24C02's internal write cycle; it ignores the bus until the cycle is over.
const WRITE_CYCLE_MS: u32 = 5;

fn run() -> Result<(), String> {
    let label = std::env::args().nth(1).unwrap_or_else(|| "sensors".into());
    let open = || I2cBus::open(&label).map_err(|e| format!("open {label}: {e:?}"));
    let mut sensor = Lm75::new(open()?, LM75_ADDRESS);
    let mut eeprom = Eeprom24x::new_24x02(open()?, SlaveAddr::default());
    let mut delay = Delay::new();

    let mut record = [0u8; 3];
    eeprom
        .read_data(RECORD_ADDRESS, &mut record)
        .map_err(|e| format!("eeprom read: {e:?}"))?;
    let previous = (record[0] == RECORD_MARK)
        .then(|| f32::from(i16::from_be_bytes([record[1], record[2]])) / 100.0);

    let celsius = sensor
        .read_temperature()
        .map_err(|e| format!("lm75 read: {e:?}"))?;
    let centi = (celsius * 100.0).round() as i16;
    let [hi, lo] = centi.to_be_bytes();
    eeprom
        .write_page(RECORD_ADDRESS, &[RECORD_MARK, hi, lo])
        .map_err(|e| format!("eeprom write: {e:?}"))?;
    delay.delay_ms(WRITE_CYCLE_MS);

    eeprom
        .read_data(RECORD_ADDRESS, &mut record)
        .map_err(|e| format!("eeprom read back: {e:?}"))?;
    let stored = f32::from(i16::from_be_bytes([record[1], record[2]])) / 100.0;
    let previous = previous.map_or("null".to_string(), |p| format!("{p:.2}"));
    println!("{{\"temperature_c\":{celsius:.2},\"stored_c\":{stored:.2},\"previous_c\":{previous}}}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sensor-store: {e}");
            ExitCode::FAILURE
        }
    }
}
