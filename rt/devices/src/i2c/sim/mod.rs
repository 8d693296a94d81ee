//! The simulated backend: device models on software buses, configured by a text file named by
//! `WAFER_I2C_SIM`.
//!
//! # Configuration format
//!
//! One directive per line; `#` starts a comment; relative paths are relative to the file.
//!
//! ```text
//! bus <name>                          # a label or a device path a grant names (sensors, /dev/i2c-1)
//! device <kind> <address> [key=value ...]   # on the last bus
//! dump <path>                         # where screens are written on exit
//! ```
//!
//! | kind | options |
//! |---|---|
//! | `bme280` | `temperature=<°C>` (22), `pressure=<hPa>` (1013.25), `humidity=<%RH>` (45) |
//! | `tmp102`, `lm75`, `lm75b` | `temperature=<°C>` (22) |
//! | `24c01` `24c02` `24c04` `24c08` `24c16` `24c32` `24c64` | `file=<path>` (backing file) |
//! | `lcd` (HD44780 on a PCF8574 backpack) | `size=<cols>x<rows>` (16x2) |
//! | `hts221` (humidity and temperature, usually at 0x5f) | `temperature=<°C>` (22), `humidity=<%RH>` (45) |
//! | `tm1650` (4-digit 7-segment controller: control at the address, usually 0x24, digits 0x10 above it) | none |
//!
//! Every device also takes `leave-ms=<n>`: it is removed from the bus that many milliseconds
//! after the simulation is read (the driver's first use of I2C), and its address NACKs from
//! then on, as a sensor whose cable came loose.
//!
//! Addresses are 7-bit, decimal or `0x` hex. An address no device answers NACKs
//! (`no-acknowledge(address)`). Screens (LCDs) are written on exit to the `dump` file, and to
//! stderr when `WAFER_I2C_SIM_DUMP` is set.

pub mod bme280;
pub mod device;
pub mod eeprom;
pub mod hts221;
pub mod lcd;
pub mod temp;
pub mod tm1650;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::bus::{Bus, ErrorCode, NackSource, Op};
use device::Device;

/// Environment variable naming the simulation file.
pub const SIM_ENV: &str = "WAFER_I2C_SIM";
/// Environment variable that, when set, dumps screens to stderr on exit.
pub const DUMP_ENV: &str = "WAFER_I2C_SIM_DUMP";

struct Attached {
    base: u8,
    span: u8,
    device: Box<dyn Device + Send>,
    /// When the device leaves the bus (`leave-ms`).
    leave: Option<Instant>,
}

/// A software bus and the devices on it.
#[derive(Default)]
pub struct SimBus {
    devices: Vec<Attached>,
}

impl SimBus {
    pub fn attach(
        &mut self,
        base: u8,
        device: Box<dyn Device + Send>,
        leave: Option<Instant>,
    ) -> Result<(), String> {
        let span = device.span();
        let end = base as u32 + span as u32;
        if end > 0x80 {
            return Err(format!("device at {base:#04x} spans past address 0x7f"));
        }
        if let Some(other) = self
            .devices
            .iter()
            .find(|d| (base as u32) < d.base as u32 + d.span as u32 && (d.base as u32) < end)
        {
            return Err(format!(
                "address {base:#04x} overlaps the device at {:#04x}",
                other.base
            ));
        }
        self.devices.push(Attached {
            base,
            span,
            device,
            leave,
        });
        Ok(())
    }

    fn dumps(&self) -> Vec<(u8, String)> {
        self.devices
            .iter()
            .filter_map(|d| d.device.dump().map(|s| (d.base, s)))
            .collect()
    }
}

impl Bus for SimBus {
    fn transaction(&mut self, address: u8, ops: &mut [Op<'_>]) -> Result<(), ErrorCode> {
        let now = Instant::now();
        let Some(att) = self.devices.iter_mut().find(|d| {
            address >= d.base && address < d.base + d.span && d.leave.is_none_or(|l| now < l)
        }) else {
            return Err(ErrorCode::NoAcknowledge(NackSource::Address));
        };
        let offset = address - att.base;
        let dev = &mut att.device;
        let mut outcome = Ok(());
        for op in ops.iter_mut() {
            match op {
                Op::Read(buf) => {
                    dev.start(offset, true);
                    for b in buf.iter_mut() {
                        *b = dev.read();
                    }
                }
                Op::Write(data) => {
                    dev.start(offset, false);
                    if !data.iter().all(|&b| dev.write(b)) {
                        outcome = Err(ErrorCode::NoAcknowledge(NackSource::Data));
                        break;
                    }
                }
            }
        }
        dev.stop();
        outcome
    }
}

/// A simulation: named buses and where screens go on exit.
#[derive(Default)]
pub struct Simulation {
    buses: Vec<(String, Arc<Mutex<SimBus>>)>,
    dump: Option<PathBuf>,
}

fn parse_address(s: &str) -> Result<u8, String> {
    let value = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|_| format!("bad address {s:?}"))?;
    if value > 0x7F {
        return Err(format!("address {s} is not a 7-bit address"));
    }
    Ok(value)
}

fn option_f64(options: &[(&str, &str)], key: &str, default: f64) -> Result<f64, String> {
    match options.iter().find(|(k, _)| *k == key) {
        None => Ok(default),
        Some((_, v)) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("bad {key} {v:?}")),
    }
}

/// The device models a `device` line makes, each with its address offset from the line's
/// address (one, except for parts that answer at separate addresses like the TM1650).
type Attachments = Vec<(u8, Box<dyn Device + Send>)>;

fn make_device(kind: &str, options: &[(&str, &str)], dir: &Path) -> Result<Attachments, String> {
    let known: &[&str] = match kind {
        "bme280" => &["temperature", "pressure", "humidity"],
        "hts221" => &["temperature", "humidity"],
        "tm1650" => &[],
        "lcd" => &["size"],
        k if temp::Kind::from_name(k).is_some() => &["temperature"],
        k if eeprom::geometry(k).is_some() => &["file"],
        _ => return Err(format!("unknown device kind {kind:?}")),
    };
    if let Some((k, _)) = options.iter().find(|(k, _)| !known.contains(k)) {
        return Err(format!(
            "{kind} has no option {k:?} (options: {})",
            known.join(", ")
        ));
    }
    if kind == "tm1650" {
        let (control, digits) = tm1650::new();
        return Ok(vec![
            (0, Box::new(control)),
            (tm1650::DIGITS_OFFSET, Box::new(digits)),
        ]);
    }
    let device: Box<dyn Device + Send> = match kind {
        "hts221" => {
            let celsius = option_f64(options, "temperature", 22.0)?;
            let humidity = option_f64(options, "humidity", 45.0)?;
            if !(-40.0..=120.0).contains(&celsius) || !(0.0..=100.0).contains(&humidity) {
                return Err(
                    "hts221 values outside the part's range (-40..120 °C, 0..100 %RH)".into(),
                );
            }
            Box::new(hts221::Hts221::new(celsius, humidity))
        }
        "bme280" => {
            let env = bme280::Environment {
                celsius: option_f64(options, "temperature", 22.0)?,
                pascal: option_f64(options, "pressure", 1013.25)? * 100.0,
                humidity_pct: option_f64(options, "humidity", 45.0)?,
            };
            if !(-40.0..=85.0).contains(&env.celsius)
                || !(30000.0..=110000.0).contains(&env.pascal)
                || !(0.0..=100.0).contains(&env.humidity_pct)
            {
                return Err("bme280 values outside the part's range (-40..85 °C, 300..1100 hPa, 0..100 %RH)".into());
            }
            Box::new(bme280::Bme280::new(env))
        }
        "lcd" => {
            let size = options
                .iter()
                .find(|(k, _)| *k == "size")
                .map_or("16x2", |(_, v)| v);
            let (cols, rows) =
                lcd::Lcd::parse_size(size).ok_or_else(|| format!("bad lcd size {size:?}"))?;
            Box::new(lcd::Lcd::new(cols, rows))
        }
        k => match (temp::Kind::from_name(k), eeprom::geometry(k)) {
            (Some(t), _) => Box::new(temp::TempSensor::new(
                t,
                option_f64(options, "temperature", 22.0)?,
            )),
            (None, Some(g)) => {
                let file = options
                    .iter()
                    .find(|(k, _)| *k == "file")
                    .map(|(_, v)| dir.join(v));
                Box::new(eeprom::Eeprom::new(g, file)?)
            }
            (None, None) => unreachable!("kind checked above"),
        },
    };
    Ok(vec![(0, device)])
}

impl Simulation {
    /// Parses a configuration; `dir` anchors relative paths.
    pub fn parse(text: &str, dir: &Path) -> Result<Simulation, String> {
        let mut sim = Simulation::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = |e: String| format!("line {}: {e}", n + 1);
            match words.as_slice() {
                [] => {}
                ["bus", name] => {
                    if sim.buses.iter().any(|(b, _)| b == name) {
                        return Err(at(format!("bus {name} is declared twice")));
                    }
                    sim.buses.push((name.to_string(), Default::default()));
                }
                ["device", kind, addr, opts @ ..] => {
                    let (_, bus) = sim
                        .buses
                        .last()
                        .ok_or_else(|| at("a device needs a bus line before it".into()))?;
                    let address = parse_address(addr).map_err(at)?;
                    let mut options = opts
                        .iter()
                        .map(|o| {
                            o.split_once('=')
                                .ok_or_else(|| at(format!("option {o:?} is not key=value")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let leave = match options.iter().position(|(k, _)| *k == "leave-ms") {
                        Some(i) => {
                            let (_, v) = options.remove(i);
                            let ms: u64 =
                                v.parse().map_err(|_| at(format!("bad leave-ms {v:?}")))?;
                            Some(Instant::now() + Duration::from_millis(ms))
                        }
                        None => None,
                    };
                    let mut bus = bus.lock().unwrap_or_else(|p| p.into_inner());
                    for (offset, device) in make_device(kind, &options, dir).map_err(at)? {
                        let at_address = address
                            .checked_add(offset)
                            .filter(|a| *a <= 0x7F)
                            .ok_or_else(|| {
                                at(format!("{kind} at {address:#04x} does not fit below 0x7f"))
                            })?;
                        bus.attach(at_address, device, leave).map_err(at)?;
                    }
                }
                ["dump", path] => sim.dump = Some(dir.join(path)),
                _ => return Err(at(format!("cannot read {line:?}"))),
            }
        }
        Ok(sim)
    }

    /// The bus named `name`, if declared.
    pub fn bus(&self, name: &str) -> Option<Arc<Mutex<SimBus>>> {
        self.buses
            .iter()
            .find(|(b, _)| b == name)
            .map(|(_, bus)| bus.clone())
    }

    /// Every screen, labelled by bus and address.
    pub fn dump_text(&self) -> String {
        let mut out = String::new();
        for (name, bus) in &self.buses {
            let bus = bus.lock().unwrap_or_else(|p| p.into_inner());
            for (addr, text) in bus.dumps() {
                out.push_str(&format!("# bus {name} address {addr:#04x}\n{text}"));
            }
        }
        out
    }
}

/// A bus handle on the shared simulation (every open of a bus sees the same devices).
pub struct SharedBus(pub Arc<Mutex<SimBus>>);

impl Bus for SharedBus {
    fn transaction(&mut self, address: u8, ops: &mut [Op<'_>]) -> Result<(), ErrorCode> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .transaction(address, ops)
    }
}

static SIMULATION: OnceLock<Result<Simulation, String>> = OnceLock::new();

/// The process's simulation, loaded from `WAFER_I2C_SIM` on first use; screens are dumped on
/// exit from then on.
pub fn global() -> Result<&'static Simulation, String> {
    SIMULATION
        .get_or_init(|| {
            let path = std::env::var_os(SIM_ENV)
                .ok_or_else(|| format!("{SIM_ENV} names no simulation file"))?;
            let path = PathBuf::from(path);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let dir = path.parent().unwrap_or(Path::new("."));
            let sim =
                Simulation::parse(&text, dir).map_err(|e| format!("{}: {e}", path.display()))?;
            // SAFETY: registering a plain function; it runs at exit on this thread.
            unsafe { libc::atexit(dump_at_exit) };
            Ok(sim)
        })
        .as_ref()
        .map_err(Clone::clone)
}

extern "C" fn dump_at_exit() {
    let Some(Ok(sim)) = SIMULATION.get() else {
        return;
    };
    let text = sim.dump_text();
    if let Some(path) = &sim.dump {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("wafer: i2c sim: cannot write {}: {e}", path.display());
        }
    }
    if std::env::var_os(DUMP_ENV).is_some() {
        eprint!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "
        # two buses
        bus sensors
        device bme280 0x76 temperature=25
        device tmp102 72
        bus /dev/i2c-3
        device 24c16 0x50
        device lcd 0x27 size=20x4
        dump screen.txt
    ";

    #[test]
    fn parses_and_routes_by_address() {
        let sim = Simulation::parse(CONFIG, Path::new("/tmp")).unwrap();
        assert_eq!(sim.dump.as_deref(), Some(Path::new("/tmp/screen.txt")));
        let mut bus = SharedBus(sim.bus("sensors").unwrap());
        let mut id = [0u8];
        bus.write_read(0x76, &[0xD0], &mut id).unwrap();
        assert_eq!(id, [0x60]);
        let mut t = [0u8; 2];
        bus.write_read(0x48, &[0], &mut t).unwrap();
        assert_eq!(t, [0x16, 0x00]);
        assert_eq!(
            bus.read(0x50, &mut t),
            Err(ErrorCode::NoAcknowledge(NackSource::Address))
        );
        let mut eeprom = SharedBus(sim.bus("/dev/i2c-3").unwrap());
        eeprom.write(0x57, &[0x10, 0xAB]).unwrap();
        eeprom.write_read(0x57, &[0x10], &mut id).unwrap();
        assert_eq!(id, [0xAB]);
        assert!(sim.dump_text().contains("lcd 20x4"));
    }

    #[test]
    fn a_device_that_leaves_stops_answering() {
        let text = "bus b\ndevice lm75 0x48 leave-ms=0\ndevice tmp102 0x49 leave-ms=600000\n";
        let sim = Simulation::parse(text, Path::new("/tmp")).unwrap();
        let mut bus = SharedBus(sim.bus("b").unwrap());
        let mut t = [0u8; 2];
        assert_eq!(
            bus.write_read(0x48, &[0], &mut t),
            Err(ErrorCode::NoAcknowledge(NackSource::Address))
        );
        bus.write_read(0x49, &[0], &mut t).unwrap();
        assert!(
            Simulation::parse("bus b\ndevice lm75 0x48 leave-ms=soon\n", Path::new("/")).is_err()
        );
    }

    #[test]
    fn refuses_bad_configurations() {
        for (bad, why) in [
            ("device bme280 0x76", "needs a bus"),
            ("bus a\ndevice bme280 0x80", "7-bit"),
            ("bus a\ndevice toaster 0x10", "unknown device kind"),
            ("bus a\ndevice bme280 0x76 colour=red", "no option"),
            (
                "bus a\ndevice bme280 0x76 temperature=hot",
                "bad temperature",
            ),
            ("bus a\ndevice 24c02 0x50\ndevice tmp102 0x50", "overlaps"),
            ("bus a\ndevice 24c16 0x50\ndevice tmp102 0x53", "overlaps"),
            ("bus a\ndevice 24c16 0x7c", "spans past"),
            ("bus a\nbus a", "twice"),
            ("frobnicate", "cannot read"),
        ] {
            let e = Simulation::parse(bad, Path::new("."))
                .err()
                .unwrap_or_default();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
