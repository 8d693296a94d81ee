//! The I2C driver tests/kernel/run.sh runs inside a QEMU q35 guest, on the real kernel's
//! i2c-dev for the ICH9 SMBus controller (i2c-i801, which has no plain I2C, so every call
//! goes through the runtime's SMBus fallback).
//!
//! It prints one `RESULT <key> <value>` line per thing it saw, never judging them: the rig
//! compares the lines with tests/kernel/expect/. Devices on the bus (see run.sh):
//! QEMU's `i2c-echo` at 0x42, which stores up to three written bytes and answers reads from
//! the first of them (0xff past the third), and the q35 board's eight SPD EEPROMs at
//! 0x50–0x57 (256 bytes each, writable, with an address pointer that reads advance).
//!
//! Usage: `kernel-i2c full|restricted [LABEL]`. `full` runs on a build granted 0x42, 0x50,
//! 0x52–0x57 and 0x60 (nothing answers there); `restricted` on one granted 0x50 only.

use std::process::ExitCode;

use wafer_sdk::wasi::i2c::i2c::{ErrorCode, I2c, NoAcknowledgeSource, Operation};
use wafer_sdk::I2cBus;

const ECHO: u16 = 0x42;
const SPD: u16 = 0x50;

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

fn error_name(e: &ErrorCode) -> &'static str {
    match e {
        ErrorCode::Bus => "err:bus",
        ErrorCode::ArbitrationLoss => "err:arbitration-loss",
        ErrorCode::NoAcknowledge(NoAcknowledgeSource::Address) => "err:nack-address",
        ErrorCode::NoAcknowledge(NoAcknowledgeSource::Data) => "err:nack-data",
        ErrorCode::NoAcknowledge(NoAcknowledgeSource::Unknown) => "err:nack-unknown",
        ErrorCode::Overrun => "err:overrun",
        ErrorCode::Other => "err:other",
    }
}

fn show<T>(result: Result<T, ErrorCode>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(v) => ok(v),
        Err(e) => error_name(&e).into(),
    }
}

struct Report {
    prefix: &'static str,
}

impl Report {
    fn line(&self, key: &str, value: String) {
        println!("RESULT {}.{key} {value}", self.prefix);
    }
    fn read(&self, key: &str, r: Result<Vec<u8>, ErrorCode>) {
        self.line(key, show(r, |v| hex(&v)));
    }
    fn write(&self, key: &str, r: Result<(), ErrorCode>) {
        self.line(key, show(r, |()| "ok".into()));
    }
}

/// The echo device: each SMBus shape the fallback plans, and the shapes it must refuse.
fn echo(bus: &I2c, r: &Report) {
    // Three bytes: a word-data write (command a1, data b2 c3).
    r.write("echo.write3", bus.write(ECHO, &[0xa1, 0xb2, 0xc3]));
    // Receive-byte: the first stored byte.
    r.read("echo.read1", bus.read(ECHO, 1));
    // Read-byte-data, read-word-data, then I2C block reads: the command byte replaces the
    // first stored byte, and reads start over from it.
    r.read("echo.write_read1", bus.write_read(ECHO, &[0x5a], 1));
    r.read("echo.write_read2", bus.write_read(ECHO, &[0x5a], 2));
    r.read("echo.write_read3", bus.write_read(ECHO, &[0x5a], 3));
    r.read("echo.write_read4", bus.write_read(ECHO, &[0x5a], 4));
    // A fourth byte does not fit the device, which NACKs it; QEMU's SMBus controller drops
    // that NACK (its smbus_write_block ignores i2c_send's answer), so the write succeeds and
    // the device keeps the first three bytes.
    r.write("echo.write4", bus.write(ECHO, &[1, 2, 3, 4]));
    // No SMBus call reads two bytes without a command, or runs three messages.
    r.read("echo.read2", bus.read(ECHO, 2));
    let three = [
        Operation::Write(vec![0x11]),
        Operation::Read(1),
        Operation::Write(vec![0x22]),
    ];
    r.line(
        "echo.transaction3",
        show(bus.transaction(ECHO, &three), |v| {
            format!("{} reads", v.len())
        }),
    );
    // A two-message transaction the fallback can express: write then read.
    let two = [Operation::Write(vec![0x77]), Operation::Read(3)];
    r.line(
        "echo.transaction2",
        show(bus.transaction(ECHO, &two), |v| {
            v.iter().map(|b| hex(b)).collect::<Vec<_>>().join(" | ")
        }),
    );
}

/// 256 bytes of an EEPROM in 32-byte I2C block reads.
fn dump(bus: &I2c, address: u16) -> Result<Vec<u8>, ErrorCode> {
    let mut all = Vec::with_capacity(256);
    for offset in (0..256).step_by(32) {
        all.extend(bus.write_read(address, &[offset as u8], 32)?);
    }
    Ok(all)
}

/// The SPD EEPROMs: what the board put there, then every write shape and the pointer.
fn spd(bus: &I2c, r: &Report) {
    for address in [0x50u16, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57] {
        let key = format!("spd.{address:#04x}");
        match dump(bus, address) {
            Ok(bytes) => {
                let nonzero = bytes.iter().filter(|&&b| b != 0).count();
                r.line(
                    &key,
                    format!(
                        "len={} nonzero={nonzero} type={:02x} head={}",
                        bytes.len(),
                        bytes[2],
                        hex(&bytes[..8]).replace(' ', "")
                    ),
                );
            }
            Err(e) => r.line(&key, error_name(&e).into()),
        }
    }
    // Write-byte-data, write-word-data and an I2C block write, each read back.
    r.write("spd.write_byte", bus.write(SPD, &[0x10, 0x5a]));
    r.read("spd.readback_byte", bus.write_read(SPD, &[0x10], 1));
    r.write("spd.write_word", bus.write(SPD, &[0x20, 0x34, 0x12]));
    r.read("spd.readback_word", bus.write_read(SPD, &[0x20], 2));
    let block: Vec<u8> = (1..=8).collect();
    let mut write = vec![0x30];
    write.extend(&block);
    r.write("spd.write_block", bus.write(SPD, &write));
    r.read("spd.readback_block", bus.write_read(SPD, &[0x30], 8));
    r.read("spd.readback_block_last", bus.write_read(SPD, &[0x37], 1));
    // Send-byte sets the pointer; receive-byte reads and advances it.
    r.write("spd.set_pointer", bus.write(SPD, &[0x33]));
    let mut seq = Vec::new();
    for _ in 0..3 {
        match bus.read(SPD, 1) {
            Ok(b) => seq.extend(b),
            Err(e) => {
                r.line("spd.pointer_reads", error_name(&e).into());
                return;
            }
        }
    }
    r.line("spd.pointer_reads", hex(&seq));
}

fn full(bus: &I2c, r: &Report) {
    echo(bus, r);
    spd(bus, r);
    // Granted, but nothing answers at 0x60: the kernel's ENXIO.
    r.read("absent.0x60", bus.write_read(0x60, &[0], 1));
    // Present on the bus but not granted, and not a 7-bit address at all.
    r.read("denied.0x51", bus.write_read(0x51, &[0], 1));
    r.read("denied.0x80", bus.read(0x80, 1));
}

fn restricted(bus: &I2c, r: &Report) {
    r.line(
        "granted.0x50",
        show(bus.write_read(SPD, &[0x31], 2), |v| hex(&v)),
    );
    r.read("denied.0x42", bus.read(ECHO, 1));
    r.write("denied.0x42.write", bus.write(ECHO, &[0xa1, 0xb2]));
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("full");
    let label = args.get(2).map(String::as_str).unwrap_or("smbus");
    let bus = match I2cBus::open(label) {
        Ok(bus) => bus,
        Err(e) => {
            eprintln!("kernel-i2c: open {label}: {e:?}");
            return ExitCode::FAILURE;
        }
    };
    match mode {
        "full" => full(bus.raw(), &Report { prefix: "i2c" }),
        "restricted" => restricted(
            bus.raw(),
            &Report {
                prefix: "i2c-restricted",
            },
        ),
        other => {
            eprintln!("kernel-i2c: unknown mode {other:?} (full or restricted)");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
