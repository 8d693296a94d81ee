//! Writes a line of text to an HD44780 character LCD behind a PCF8574 "I2C backpack"
//! (P0=RS, P1=RW, P2=E, P3=backlight, P4..P7=D4..D7), through embedded-hal's `I2c`.
//!
//! Usage: `lcd-hello [BUS_LABEL] [ADDRESS] [TEXT]` (defaults: `display`, 0x27, `hello`).

use std::process::ExitCode;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use wafer_sdk::{Delay, I2cBus};

const RS: u8 = 0x01;
const E: u8 = 0x04;
const BACKLIGHT: u8 = 0x08;

struct Backpack<I: I2c, D: DelayNs> {
    i2c: I,
    delay: D,
    address: u8,
}

impl<I: I2c, D: DelayNs> Backpack<I, D> {
    /// One nibble on D4..D7, latched by a pulse on E (at least 450 ns high).
    fn nibble(&mut self, nibble: u8, rs: bool) -> Result<(), I::Error> {
        let pins = (nibble << 4) | BACKLIGHT | if rs { RS } else { 0 };
        self.i2c.write(self.address, &[pins | E])?;
        self.delay.delay_us(1);
        self.i2c.write(self.address, &[pins])?;
        self.delay.delay_us(50);
        Ok(())
    }

    fn byte(&mut self, byte: u8, rs: bool) -> Result<(), I::Error> {
        self.nibble(byte >> 4, rs)?;
        self.nibble(byte & 0xF, rs)
    }

    /// The datasheet's initialisation by instruction (figure 24), into 4-bit, two-line mode.
    fn init(&mut self) -> Result<(), I::Error> {
        self.delay.delay_ms(50);
        for wait_us in [4500, 150, 150] {
            self.nibble(0x3, false)?;
            self.delay.delay_us(wait_us);
        }
        self.nibble(0x2, false)?;
        for instruction in [0x28, 0x0C, 0x06, 0x01] {
            self.byte(instruction, false)?;
        }
        self.delay.delay_ms(2);
        Ok(())
    }

    fn print(&mut self, text: &str) -> Result<(), I::Error> {
        for b in text.bytes() {
            self.byte(b, true)?;
        }
        Ok(())
    }
}

fn parse_address(s: &str) -> Option<u8> {
    match s.strip_prefix("0x") {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let label = args.get(1).map_or("display", String::as_str);
    let address = match args.get(2) {
        None => 0x27,
        Some(s) => parse_address(s).ok_or_else(|| format!("bad address {s:?}"))?,
    };
    let text = args.get(3).map_or("hello", String::as_str);
    let i2c = I2cBus::open(label).map_err(|e| format!("open {label}: {e:?}"))?;
    let mut lcd = Backpack {
        i2c,
        delay: Delay::new(),
        address,
    };
    lcd.init().map_err(|e| format!("lcd init: {e}"))?;
    lcd.print(text).map_err(|e| format!("lcd write: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lcd-hello: {e}");
            ExitCode::FAILURE
        }
    }
}
