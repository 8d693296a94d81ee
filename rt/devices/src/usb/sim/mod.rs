//! The simulated USB backend: software devices with real descriptors, configured by a text
//! file named by `WAFER_USB_SIM`.
//!
//! # Configuration format
//!
//! One device per line; `#` starts a comment; relative paths are relative to the file.
//!
//! ```text
//! device echo [vid=2341] [pid=8057] [serial=<text>]
//! device storage file=<image> [blocks=<n>]
//! device keyboard keys=<text>
//! ```
//!
//! Every device also takes `bus=<n>` (1), `address=<n>` (2, 3, ... in file order),
//! `arrive-ms=<n>` (present from that many milliseconds after the driver starts; default:
//! from the start), `leave-ms=<n>` (unplugged then) and `kernel-driver=yes` (a kernel
//! driver is bound to every interface: claiming one is `busy` until it is detached, and
//! attaching it again binds it). Arrivals and departures are what hotplug reports.
//!
//! | kind | what it is |
//! |---|---|
//! | `echo` | the Arduino echo firmware: bulk 0x81/0x01 and interrupt 0x82/0x02 send back what was written |
//! | `storage` | a flash drive (bulk-only mass storage, SCSI) over `file`; created with `blocks` 512-byte blocks (default 4096) when missing, extended to `blocks` when shorter |
//! | `keyboard` | a HID boot keyboard typing `keys` (`\s` is a space, `\n` Enter) on interrupt IN 0x81 |

pub mod device;
pub mod echo;
pub mod keyboard;
pub mod storage;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::host::{DeviceInfo, Handle, Host, Pending};
use super::types::{Event, Location, Speed, TransferRequest, TransferType, UsbError};
use device::{Function, SimDevice};

/// Environment variable naming the simulation file.
pub const SIM_ENV: &str = "WAFER_USB_SIM";

type Shared = Arc<Mutex<SimDevice>>;

fn lock(d: &Shared) -> std::sync::MutexGuard<'_, SimDevice> {
    d.lock().unwrap_or_else(|e| e.into_inner())
}

struct Plugged {
    key: u64,
    location: Location,
    arrive: Duration,
    leave: Option<Duration>,
    device: Shared,
}

/// The simulated devices and the clock that plugs and unplugs them.
pub struct Simulation {
    devices: Vec<Plugged>,
    start: Instant,
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{key}={value:?} is not a number"))
}

fn hex_id(key: &str, value: &str) -> Result<u16, String> {
    u16::from_str_radix(value.trim_start_matches("0x"), 16)
        .map_err(|_| format!("{key}={value:?} is not a hex id"))
}

fn unescape_keys(text: &str) -> String {
    text.replace("\\s", " ")
        .replace("\\n", "\n")
        .replace("\\t", "\t")
}

fn open_image(path: &Path, blocks: Option<u64>) -> Result<std::fs::File, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let want = blocks.unwrap_or(if len == 0 { 4096 } else { 0 }) * storage::BLOCK;
    if want > len {
        file.set_len(want)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(file)
}

impl Simulation {
    pub fn parse(text: &str, dir: &Path) -> Result<Simulation, String> {
        let mut devices = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = |e: String| format!("line {}: {e}", n + 1);
            let mut words = line.split_whitespace();
            if words.next() != Some("device") {
                return Err(at(format!("expected `device <kind> ...`, found {line:?}")));
            }
            let kind = words
                .next()
                .ok_or_else(|| at("a device needs a kind".into()))?;
            let mut opts: Vec<(&str, &str)> = Vec::new();
            for w in words {
                let (k, v) = w
                    .split_once('=')
                    .ok_or_else(|| at(format!("option {w:?} is not key=value")))?;
                opts.push((k, v));
            }
            let get = |key: &str| opts.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
            let allowed: &[&str] = match kind {
                "echo" => &["vid", "pid", "serial"],
                "storage" => &["file", "blocks"],
                "keyboard" => &["keys"],
                other => return Err(at(format!("unknown device kind {other:?}"))),
            };
            for (k, _) in &opts {
                if !allowed.contains(k)
                    && !["bus", "address", "arrive-ms", "leave-ms", "kernel-driver"].contains(k)
                {
                    return Err(at(format!("{kind} has no option {k:?}")));
                }
            }
            let (function, speed): (Box<dyn Function>, Speed) = match kind {
                "echo" => (
                    Box::new(echo::Echo::new(
                        get("vid")
                            .map_or(Ok(0x2341), |v| hex_id("vid", v))
                            .map_err(at)?,
                        get("pid")
                            .map_or(Ok(0x8057), |v| hex_id("pid", v))
                            .map_err(at)?,
                        get("serial").unwrap_or("SIM0001").to_string(),
                    )),
                    Speed::Full,
                ),
                "storage" => {
                    let file =
                        get("file").ok_or_else(|| at("storage needs file=<image>".into()))?;
                    let blocks = get("blocks")
                        .map(|b| number::<u64>("blocks", b))
                        .transpose()
                        .map_err(at)?;
                    let image = open_image(&dir.join(file), blocks).map_err(at)?;
                    (
                        Box::new(storage::Storage::new(image).map_err(at)?),
                        Speed::High,
                    )
                }
                _ => (
                    Box::new(
                        keyboard::Keyboard::new(&unescape_keys(get("keys").unwrap_or("")))
                            .map_err(at)?,
                    ),
                    Speed::Low,
                ),
            };
            let index = devices.len() as u8;
            let ms = |key: &str| {
                get(key)
                    .map(|v| number::<u64>(key, v).map(Duration::from_millis))
                    .transpose()
            };
            devices.push(Plugged {
                key: index as u64 + 1,
                location: Location {
                    bus: get("bus").map_or(Ok(1), |v| number("bus", v)).map_err(at)?,
                    address: get("address")
                        .map_or(Ok(index + 2), |v| number("address", v))
                        .map_err(at)?,
                    port: index + 1,
                    speed,
                },
                arrive: ms("arrive-ms").map_err(at)?.unwrap_or_default(),
                leave: ms("leave-ms").map_err(at)?,
                device: Arc::new(Mutex::new({
                    let mut d = SimDevice::new(function);
                    match get("kernel-driver") {
                        None | Some("no") => {}
                        Some("yes") => d.kernel_driver = d.interfaces(),
                        Some(v) => return Err(at(format!("kernel-driver={v}: yes or no"))),
                    }
                    d
                })),
            });
        }
        Ok(Simulation {
            devices,
            start: Instant::now(),
        })
    }

    fn present_at(&self, p: &Plugged, now: Instant) -> bool {
        let t = now.duration_since(self.start);
        t >= p.arrive && p.leave.is_none_or(|l| t < l)
    }

    fn info(p: &Plugged) -> DeviceInfo {
        DeviceInfo {
            key: p.key,
            descriptor: lock(&p.device).descriptor(),
            location: p.location,
        }
    }

    fn find(&self, key: u64) -> Result<&Plugged, UsbError> {
        let p = self
            .devices
            .iter()
            .find(|p| p.key == key)
            .ok_or(UsbError::NoDevice)?;
        if self.present_at(p, Instant::now()) {
            Ok(p)
        } else {
            Err(UsbError::NoDevice)
        }
    }
}

static SIMULATION: OnceLock<Result<Simulation, String>> = OnceLock::new();

/// The simulation of this process, read from `WAFER_USB_SIM` on first use.
pub fn global() -> Result<&'static Simulation, String> {
    SIMULATION
        .get_or_init(|| {
            let path = std::env::var_os(SIM_ENV)
                .ok_or_else(|| format!("{SIM_ENV} names no simulation file"))?;
            let path = PathBuf::from(path);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let dir = path.parent().unwrap_or(Path::new("."));
            Simulation::parse(&text, dir).map_err(|e| format!("{}: {e}", path.display()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A [`Host`] over a simulation.
pub struct SimHost {
    sim: &'static Simulation,
    /// Keys present at the last hotplug poll; `None` until hotplug is enabled.
    seen: Option<Vec<u64>>,
}

impl SimHost {
    pub fn new(sim: &'static Simulation) -> SimHost {
        SimHost { sim, seen: None }
    }

    fn present(&self) -> Vec<&Plugged> {
        let now = Instant::now();
        self.sim
            .devices
            .iter()
            .filter(|p| self.sim.present_at(p, now))
            .collect()
    }
}

impl Host for SimHost {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        Ok(self.present().into_iter().map(Simulation::info).collect())
    }

    fn config_descriptor(&mut self, key: u64, index: u8) -> Result<Vec<u8>, UsbError> {
        let p = self.sim.find(key)?;
        if index != 0 {
            return Err(UsbError::NotFound);
        }
        Ok(lock(&p.device).config_bytes())
    }

    fn active_config(&mut self, key: u64) -> Result<u8, UsbError> {
        Ok(lock(&self.sim.find(key)?.device).active())
    }

    fn open(&mut self, key: u64) -> Result<Box<dyn Handle>, UsbError> {
        let p = self.sim.find(key)?;
        Ok(Box::new(SimHandle {
            sim: self.sim,
            key,
            device: p.device.clone(),
            claimed: Vec::new(),
        }))
    }

    fn enable_hotplug(&mut self) -> Result<(), UsbError> {
        if self.seen.is_none() {
            self.seen = Some(self.present().iter().map(|p| p.key).collect());
        }
        Ok(())
    }

    fn poll_events(&mut self) -> Vec<(Event, DeviceInfo)> {
        let Some(seen) = &self.seen else {
            return Vec::new();
        };
        let now: Vec<&Plugged> = self.present();
        let mut events = Vec::new();
        for p in &self.sim.devices {
            let was = seen.contains(&p.key);
            let is = now.iter().any(|q| q.key == p.key);
            if was != is {
                let e = if is { Event::Arrived } else { Event::Left };
                events.push((e, Simulation::info(p)));
            }
        }
        self.seen = Some(now.iter().map(|p| p.key).collect());
        events
    }
}

/// An open simulated device.
pub struct SimHandle {
    sim: &'static Simulation,
    key: u64,
    device: Shared,
    claimed: Vec<u8>,
}

impl SimHandle {
    /// The device, if it is still plugged in.
    fn dev(&self) -> Result<Shared, UsbError> {
        self.sim.find(self.key)?;
        Ok(self.device.clone())
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let mut d = lock(&self.device);
        d.claimed.retain(|i| !self.claimed.contains(i));
    }
}

impl Handle for SimHandle {
    fn get_configuration(&mut self) -> Result<u8, UsbError> {
        Ok(lock(&self.dev()?).active())
    }

    fn set_configuration(&mut self, value: Option<u8>) -> Result<(), UsbError> {
        let dev = self.dev()?;
        let mut d = lock(&dev);
        if !d.claimed.is_empty() {
            // libusb: the configuration cannot change while an interface is claimed.
            return Err(UsbError::Busy);
        }
        d.set_configuration(value.unwrap_or(0))
            .map_err(|_| UsbError::NotFound)
    }

    fn claim_interface(&mut self, interface: u8) -> Result<(), UsbError> {
        let dev = self.dev()?;
        let mut d = lock(&dev);
        if !d.has_interface(interface) {
            return Err(UsbError::NotFound);
        }
        if self.claimed.contains(&interface) {
            return Ok(());
        }
        if d.claimed.contains(&interface) || d.kernel_driver.contains(&interface) {
            return Err(UsbError::Busy);
        }
        d.claimed.push(interface);
        self.claimed.push(interface);
        Ok(())
    }

    fn release_interface(&mut self, interface: u8) -> Result<(), UsbError> {
        let dev = self.dev()?;
        let mut d = lock(&dev);
        if !self.claimed.contains(&interface) {
            return Err(UsbError::NotFound);
        }
        self.claimed.retain(|i| *i != interface);
        d.claimed.retain(|i| *i != interface);
        // Releasing puts the interface back to alternate setting 0, as libusb does on Linux.
        let _ = d.set_interface(interface, 0);
        Ok(())
    }

    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> Result<(), UsbError> {
        if !self.claimed.contains(&interface) {
            return Err(UsbError::NotFound);
        }
        lock(&self.dev()?)
            .set_interface(interface, alt)
            .map_err(|_| UsbError::NotFound)
    }

    fn clear_halt(&mut self, endpoint: u8) -> Result<(), UsbError> {
        lock(&self.dev()?).clear_halt(endpoint)
    }

    fn reset(&mut self) -> Result<(), UsbError> {
        lock(&self.dev()?).reset();
        Ok(())
    }

    fn alloc_streams(&mut self, _: u32, _: &[u8]) -> Result<(), UsbError> {
        // Streams exist only on SuperSpeed bulk endpoints; no simulated device has one.
        self.dev()?;
        Err(UsbError::NotSupported)
    }

    fn free_streams(&mut self, _: &[u8]) -> Result<(), UsbError> {
        self.dev()?;
        Err(UsbError::NotSupported)
    }

    fn kernel_driver_active(&mut self, interface: u8) -> Result<bool, UsbError> {
        let dev = self.dev()?;
        let d = lock(&dev);
        if !d.has_interface(interface) {
            return Err(UsbError::NotFound);
        }
        Ok(d.kernel_driver.contains(&interface))
    }

    fn detach_kernel_driver(&mut self, interface: u8) -> Result<(), UsbError> {
        if !self.kernel_driver_active(interface)? {
            // libusb: no driver is bound, so there is nothing to detach.
            return Err(UsbError::NotFound);
        }
        lock(&self.dev()?).kernel_driver.retain(|&i| i != interface);
        Ok(())
    }

    fn attach_kernel_driver(&mut self, interface: u8) -> Result<(), UsbError> {
        if self.kernel_driver_active(interface)? {
            return Err(UsbError::Busy);
        }
        let dev = self.dev()?;
        let mut d = lock(&dev);
        if d.claimed.contains(&interface) {
            // libusb: the interface is claimed, so the driver cannot bind.
            return Err(UsbError::Busy);
        }
        d.kernel_driver.push(interface);
        Ok(())
    }

    fn submit(&mut self, request: TransferRequest) -> Result<Box<dyn Pending>, UsbError> {
        let dev = self.dev()?;
        let mut d = lock(&dev);
        let deadline = (request.timeout_ms != 0)
            .then(|| Instant::now() + Duration::from_millis(request.timeout_ms as u64));
        if request.kind == TransferType::Isochronous {
            // Isochronous streams need a device with a clock (audio, video); none is simulated.
            return Err(UsbError::NotSupported);
        }
        // What completes when submitted: control transfers and OUT data (the device takes it
        // at once or, echo firmware full, NAKs until the timeout).
        let done = match request.setup {
            Some(setup) => Some(d.control(&setup, &request.data)),
            None if !request.is_in() => Some(
                d.out(request.endpoint, request.kind, &request.data)
                    .map(|()| Vec::new()),
            ),
            None => None,
        };
        drop(d);
        Ok(Box::new(SimPending {
            sim: self.sim,
            key: self.key,
            device: self.device.clone(),
            request,
            deadline,
            state: match done {
                Some(r) => State::Done(r),
                None => State::Waiting,
            },
        }))
    }
}

enum State {
    Waiting,
    Done(Result<Vec<u8>, UsbError>),
    Cancelled,
}

struct SimPending {
    sim: &'static Simulation,
    key: u64,
    device: Shared,
    request: TransferRequest,
    deadline: Option<Instant>,
    state: State,
}

impl Pending for SimPending {
    fn wait(&mut self) -> Result<Vec<u8>, UsbError> {
        let _counted = crate::usb::shutdown::Waiting::start();
        loop {
            if crate::usb::shutdown::terminating() && matches!(self.state, State::Waiting) {
                self.cancel()?;
                crate::usb::shutdown::note_cancelled();
            }
            match std::mem::replace(&mut self.state, State::Waiting) {
                State::Done(r) => return r,
                State::Cancelled => return Err(UsbError::Interrupted),
                State::Waiting => {}
            }
            if self.sim.find(self.key).is_err() {
                return Err(UsbError::NoDevice);
            }
            let got = lock(&self.device).input(
                self.request.endpoint,
                self.request.kind,
                self.request.length as usize,
            );
            if let Some(r) = got {
                return r;
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(UsbError::Timeout);
            }
            // The device NAKs: poll again at the pace of a full-speed frame.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn cancel(&mut self) -> Result<(), UsbError> {
        if let State::Waiting = self.state {
            self.state = State::Cancelled;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
