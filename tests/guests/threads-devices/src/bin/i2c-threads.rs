//! Six guest threads on the simulated I2C buses at once. Four EEPROM workers write pages of a
//! 24C02 (each its own eight pages) and read every page back, as a write-read and as a
//! transaction; two sensor workers read a BME280 and a TMP102 and rewrite the BME280's
//! measurement control. Workers 0 and 1 of each kind share one bus handle opened on the main
//! thread (the last worker to finish drops it); the others open their own, and EEPROM worker
//! 2 hands its handle to the main thread, which drops it. Every result is checked, the main
//! thread checks the EEPROM's final contents, and a fresh handle taking slot 1 again shows that
//! every handle dropped on whatever thread was freed.
//!
//!     i2c-threads [rounds=40]
//!
//! Expects two granted buses: `mem` with a 24c02 at 0x50, and `env` with a bme280 at 0x76 and
//! a tmp102 at 0x48 reading 25.0625 °C.

use std::sync::{Arc, Barrier};
use std::thread;

use threads_devices::{arg, finish, Tally};
use wafer_sdk::wafer::hal::buses::open_i2c;
use wafer_sdk::wasi::i2c::i2c::{I2c, Operation};

const EEPROM: u16 = 0x50;
const BME280: u16 = 0x76;
const TMP102: u16 = 0x48;
/// A 24C02: 256 bytes in pages of 8.
const PAGE: usize = 8;
const PAGES: usize = 32;
const EEPROM_WORKERS: usize = 4;
const PAGES_PER_WORKER: usize = PAGES / EEPROM_WORKERS;
const SENSOR_WORKERS: usize = 2;
/// BME280 ctrl_meas: temperature and pressure oversampling x1 (0b001 each), normal mode (0b11).
const CTRL_MEAS: u8 = 0x27;
/// 25.0625 °C in the TMP102's left-justified 12-bit format, and its power-on configuration.
const TMP102_READING: [u8; 2] = [0x19, 0x10];
const TMP102_CONFIG: [u8; 2] = [0x60, 0xA0];

fn open(label: &str) -> I2c {
    open_i2c(label).unwrap_or_else(|e| {
        eprintln!("i2c-threads: cannot open bus {label}: {e:?}");
        std::process::exit(1)
    })
}

/// A worker's bus: the handle the main thread opened, or one of its own.
enum Bus {
    Shared(Arc<I2c>),
    Own(I2c),
}

impl Bus {
    fn i2c(&self) -> &I2c {
        match self {
            Bus::Shared(bus) => bus,
            Bus::Own(bus) => bus,
        }
    }
}

/// What worker `w` writes to `page` in `round`: tagged with all three, so a byte out of place
/// says whose it was.
fn pattern(w: usize, page: usize, round: u32) -> [u8; PAGE] {
    let seed = (w as u32) << 24 | (page as u32) << 16 | round;
    std::array::from_fn(|i| match i {
        0 => 0xA0 | w as u8,
        1 => page as u8,
        2 => round as u8,
        _ => (seed.wrapping_mul(2_654_435_761) >> (i * 3)) as u8 ^ i as u8,
    })
}

/// The pages of worker `w`, as they are after `round`.
fn region(w: usize, round: u32) -> Vec<u8> {
    let first = w * PAGES_PER_WORKER;
    (first..first + PAGES_PER_WORKER)
        .flat_map(|page| pattern(w, page, round))
        .collect()
}

fn eeprom_worker(w: usize, bus: &I2c, rounds: u32, t: &mut Tally) {
    let first = w * PAGES_PER_WORKER;
    for round in 0..rounds {
        for page in first..first + PAGES_PER_WORKER {
            let at = (page * PAGE) as u8;
            let data = pattern(w, page, round).to_vec();
            let frame: Vec<u8> = std::iter::once(at).chain(data.iter().copied()).collect();
            t.ok("page write", bus.write(EEPROM, &frame));
            // Each read-back is one bus transfer: no other thread can move the EEPROM's
            // address counter between naming the address and reading.
            let back = bus.write_read(EEPROM, &[at], PAGE as u64);
            t.same("page read-back (write-read)", &back, &Ok(data.clone()));
            let ops = [Operation::Write(vec![at]), Operation::Read(PAGE as u64)];
            let back = bus.transaction(EEPROM, &ops);
            t.same("page read-back (transaction)", &back, &Ok(vec![data]));
        }
        // The worker's whole region in one sequential read across its pages.
        let want = region(w, round);
        let back = bus.write_read(EEPROM, &[(first * PAGE) as u8], want.len() as u64);
        t.same("region read-back", &back, &Ok(want));
    }
}

/// What the sensors answered the main thread before the workers started.
struct Expected {
    bme280_data: Vec<u8>,
    calibration: Vec<u8>,
}

fn sensor_worker(bus: &I2c, rounds: u32, want: &Expected, t: &mut Tally) {
    for _ in 0..rounds {
        let id = bus.write_read(BME280, &[0xD0], 1);
        t.same("bme280 chip id", &id, &Ok(vec![0x60]));
        // Rewriting ctrl_meas measures again: the same environment, the same readings.
        t.ok("bme280 ctrl_meas", bus.write(BME280, &[0xF4, CTRL_MEAS]));
        let data = bus.write_read(BME280, &[0xF7], 8);
        t.same("bme280 data", &data, &Ok(want.bme280_data.clone()));
        let ops = [Operation::Write(vec![0x88]), Operation::Read(26)];
        let cal = bus.transaction(BME280, &ops);
        t.same(
            "bme280 calibration",
            &cal,
            &Ok(vec![want.calibration.clone()]),
        );
        let temp = bus.write_read(TMP102, &[0x00], 2);
        t.same("tmp102 temperature", &temp, &Ok(TMP102_READING.to_vec()));
        let ops = [Operation::Write(vec![0x01]), Operation::Read(2)];
        let config = bus.transaction(TMP102, &ops);
        t.same(
            "tmp102 configuration",
            &config,
            &Ok(vec![TMP102_CONFIG.to_vec()]),
        );
    }
}

/// Configures the BME280 (humidity x1, then ctrl_meas) and reads what every worker must see.
fn set_up_sensors(env: &I2c, t: &mut Tally) -> Expected {
    t.same(
        "bme280 chip id",
        &env.write_read(BME280, &[0xD0], 1),
        &Ok(vec![0x60]),
    );
    t.ok("bme280 ctrl_hum", env.write(BME280, &[0xF2, 0x01]));
    t.ok("bme280 ctrl_meas", env.write(BME280, &[0xF4, CTRL_MEAS]));
    let bme280_data = t
        .ok("bme280 data", env.write_read(BME280, &[0xF7], 8))
        .unwrap_or_default();
    // After reset the data registers hold 0x80 0 0 per channel: a measurement replaced them.
    let reset = [0x80, 0, 0, 0x80, 0, 0, 0x80, 0];
    t.check(bme280_data.len() == 8 && bme280_data != reset, || {
        format!("bme280 did not measure: {bme280_data:02x?}")
    });
    let calibration = t
        .ok("bme280 calibration", env.write_read(BME280, &[0x88], 26))
        .unwrap_or_default();
    Expected {
        bme280_data,
        calibration,
    }
}

fn main() {
    let rounds = arg(1, 40).max(1);
    println!(
        "i2c-threads: {EEPROM_WORKERS} eeprom workers, {SENSOR_WORKERS} sensor workers, \
         {rounds} rounds"
    );
    let mem = Arc::new(open("mem"));
    let env = Arc::new(open("env"));
    let mut setup = Tally::default();
    let expected = Arc::new(set_up_sensors(&env, &mut setup));

    // Every worker starts at once, after the main thread let go of the shared handles.
    let gate = Arc::new(Barrier::new(EEPROM_WORKERS + SENSOR_WORKERS + 1));
    let mut eeprom = Vec::new();
    for w in 0..EEPROM_WORKERS {
        let (gate, shared) = (gate.clone(), mem.clone());
        eeprom.push(thread::spawn(move || {
            let bus = if w < 2 {
                Bus::Shared(shared)
            } else {
                drop(shared);
                Bus::Own(open("mem"))
            };
            gate.wait();
            let mut t = Tally::default();
            eeprom_worker(w, bus.i2c(), rounds, &mut t);
            // Worker 2's handle goes back to the main thread, to be dropped there.
            let handed_back = match bus {
                Bus::Own(own) if w == 2 => Some(own),
                _ => None,
            };
            (t, handed_back)
        }));
    }
    let mut sensors = Vec::new();
    for s in 0..SENSOR_WORKERS {
        let (gate, shared, expected) = (gate.clone(), env.clone(), expected.clone());
        sensors.push(thread::spawn(move || {
            let bus = if s == 0 {
                Bus::Shared(shared)
            } else {
                drop(shared);
                Bus::Own(open("env"))
            };
            gate.wait();
            let mut t = Tally::default();
            sensor_worker(bus.i2c(), rounds, &expected, &mut t);
            t
        }));
    }
    drop((mem, env));
    gate.wait();

    setup.print("setup");
    let mut tallies = vec![setup];
    for (w, worker) in eeprom.into_iter().enumerate() {
        let (t, handed_back) = worker.join().expect("eeprom worker");
        let how = match w {
            0 | 1 => "shared handle",
            2 => "own handle, dropped on the main thread",
            _ => "own handle",
        };
        t.print(&format!("eeprom worker {w} ({how})"));
        tallies.push(t);
        drop(handed_back);
    }
    for (s, worker) in sensors.into_iter().enumerate() {
        let t = worker.join().expect("sensor worker");
        let how = if s == 0 {
            "shared handle"
        } else {
            "own handle"
        };
        t.print(&format!("sensor worker {s} ({how})"));
        tallies.push(t);
    }

    let mut last = Tally::default();
    let mem = open("mem");
    last.same("a new handle after every drop", &mem.handle(), &1);
    let want: Vec<u8> = (0..EEPROM_WORKERS)
        .flat_map(|w| region(w, rounds - 1))
        .collect();
    let all = mem.write_read(EEPROM, &[0], want.len() as u64);
    last.same("eeprom contents", &all, &Ok(want));
    last.print("final contents and handles");
    tallies.push(last);
    finish(&tallies.iter().collect::<Vec<_>>());
}
