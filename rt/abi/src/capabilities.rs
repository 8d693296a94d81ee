//! What a driver may reach outside its memory: the capabilities granted when it is built.
//!
//! `wafer build --dir/--ro-dir/--env/--i2c/--usb/--net` turns its options into a [`Capabilities`] value; the CLI
//! [`encode`]s it, the compiler places the bytes in the executable (section
//! [`SECTION`], passed to the runtime entry as pointer and length), the runtime [`decode`]s them
//! at startup, and `wafer inspect` decodes them from a built executable. Nothing else is
//! visible to a guest: no preopened directory and an empty environment unless granted.
//!
//! # Encoding (versions 1 and 2)
//!
//! Text lines, each ending in `\n`; fields are separated by one tab (written `\t` below):
//!
//! ```text
//! wafer-capabilities 1            (or 2: see below)
//! dir\t<guest>\t<host>\trw|ro
//! env\t<key>\t<value>
//! env-pass\t<key>
//! i2c\t<label>\t<device>\t<addresses>\trw|ro
//! usb\t<vid>:<pid>\t<interfaces>\t<endpoints>
//! net\t<grant>                    (version 2 only)
//! wali\tunrestricted              (version 2 only)
//! ```
//!
//! - `dir`: a preopened directory: the guest sees host directory `<host>` under the name
//!   `<guest>`; `ro` grants only the rights that read (see the runtime's WASI rights model).
//! - `env`: the variable `<key>` with a value fixed at build time.
//! - `env-pass`: the variable `<key>` with the value it has in the environment the executable
//!   runs in (absent if unset there); no other variable passes.
//! - `i2c`: the I2C bus `<device>` (an i2c-dev path such as `/dev/i2c-1`, or a bus of the
//!   runtime's simulation) opened by the guest under `<label>`; `<addresses>` are the 7-bit
//!   addresses it may reach, as `0x`-hex separated by commas; `ro` refuses writes that are not
//!   a register selection followed by a read (see the runtime's i2c grant).
//! - `usb`: the USB devices with this vendor and product id (4 hex digits each); the driver
//!   may claim only `<interfaces>` (decimal, separated by commas) and transfer only on
//!   `<endpoints>` (`0x`-hex addresses with their direction bit); `*` is "all of them".
//! - `net`: sockets a WALI program may use, spelled as `--net` takes them ([`NetGrant`]):
//!   `tcp-connect:<ports>`, `tcp-bind:<ports>` (decimal, separated by commas), `unix`, `all`.
//! - `wali\tunrestricted`: a WALI program runs with the authority of the user running it (no
//!   kernel sandbox; `--wali-unrestricted`).
//!
//! Version 2 is version 1 plus the `net` and `wali` lines. [`encode`] writes version 1 whenever
//! neither appears, so executables without those grants stay byte-for-byte what they were and
//! older wafers still inspect them; a version-1 encoding holding a version-2 line is refused.
//!
//! Fields are bytes (paths need not be UTF-8). A backslash, tab, newline or carriage return
//! inside a field is written as `\\`, `\t`, `\n`, `\r`; no other escape exists, and NUL is not
//! allowed anywhere (no path, variable or directory name can hold one). Order is kept: guest
//! directories are preopened in the order given (descriptors 3, 4, ...) and variables appear in
//! the order given. An empty byte string is the empty set. A decoder refuses a version it does
//! not know, so an executable never runs with grants it misread.
//!
//! # Re-pointing at deploy time
//!
//! [`DIR_MAP_ENV`] (`WAFER_DIR_MAP=<guest>=<host>[,<guest>=<host>...]`) moves granted
//! directories to other host paths when the executable starts ([`apply_dir_map`]). Only a
//! guest name the build granted can be re-pointed; its read-only flag stays; nothing new
//! appears; a name the build did not grant is an error.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// ELF section holding the encoded capabilities in a built executable.
pub const SECTION: &str = ".wafer.capabilities";
/// First line of every encoding without a version-2 line; the number is the format version.
pub const HEADER: &str = "wafer-capabilities 1";
/// First line of an encoding that holds `net` or `wali` lines.
pub const HEADER_V2: &str = "wafer-capabilities 2";
/// Environment variable that re-points granted directories when an executable starts.
pub const DIR_MAP_ENV: &str = "WAFER_DIR_MAP";

/// A preopened directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The name the guest sees (`fd_prestat_dir_name`).
    pub guest: Vec<u8>,
    /// The host directory behind it.
    pub host: Vec<u8>,
    pub read_only: bool,
}

/// An environment variable the guest sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvGrant {
    /// `KEY=VALUE`, fixed at build time.
    Fixed { key: Vec<u8>, value: Vec<u8> },
    /// `KEY`, with the value it has where the executable runs.
    Pass { key: Vec<u8> },
}

impl EnvGrant {
    pub fn key(&self) -> &[u8] {
        match self {
            EnvGrant::Fixed { key, .. } | EnvGrant::Pass { key } => key,
        }
    }
}

/// An I2C bus (`wafer build --i2c LABEL=DEVICE:ADDR[,ADDR...][:ro]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I2cGrant {
    /// The name the guest opens the bus by.
    pub label: Vec<u8>,
    /// The host bus: an i2c-dev path, or a bus name of the simulation.
    pub device: Vec<u8>,
    /// The 7-bit addresses the guest may reach.
    pub addresses: Vec<u8>,
    pub read_only: bool,
}

/// USB devices (`wafer build --usb VID:PID[:if=N[,N...]][:ep=0xNN[,0xNN...]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbGrant {
    pub vendor: u16,
    pub product: u16,
    /// The interface numbers the driver may claim; `None`: every interface.
    pub interfaces: Option<Vec<u8>>,
    /// The endpoint addresses (direction bit included) the driver may transfer on; `None`:
    /// every endpoint. Endpoint 0 (control) is never listed: its requests are checked by
    /// their recipient instead.
    pub endpoints: Option<Vec<u8>>,
}

/// Sockets a WALI program may use (`wafer build --net ...`); the runtime's kernel sandbox
/// (Landlock network rules and a seccomp filter) enforces them. Without any, a WALI program
/// can create no socket but an anonymous `socketpair(AF_UNIX)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetGrant {
    /// `tcp-connect:PORT[,PORT...]`: TCP connections (IPv4 and IPv6) to these remote ports,
    /// on any host.
    TcpConnect(Vec<u16>),
    /// `tcp-bind:PORT[,PORT...]`: binding TCP sockets (and so listening and accepting) to
    /// these local ports; port 0 is a port the kernel picks.
    TcpBind(Vec<u16>),
    /// `unix`: Unix-domain sockets, named or abstract: connecting reaches any Unix socket
    /// the user can reach (Landlock does not limit connecting to them); binding a named one
    /// needs a `--dir` grant for where it is created.
    Unix,
    /// `all`: every socket the user could open (any family, UDP and raw included).
    All,
}

/// Everything a driver is granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub dirs: Vec<DirGrant>,
    pub env: Vec<EnvGrant>,
    pub i2c: Vec<I2cGrant>,
    pub usb: Vec<UsbGrant>,
    /// Sockets for WALI programs.
    pub net: Vec<NetGrant>,
    /// A WALI program runs with the authority of the user running it: no kernel sandbox.
    pub wali_unrestricted: bool,
}

/// Why a grant, an encoding or a re-pointing was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapError(pub String);

impl fmt::Display for CapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> CapError {
    CapError(msg.into())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Capabilities {
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
            && self.env.is_empty()
            && self.i2c.is_empty()
            && self.usb.is_empty()
            && self.net.is_empty()
            && !self.wali_unrestricted
    }

    /// Whether the encoding needs format version 2.
    fn needs_v2(&self) -> bool {
        !self.net.is_empty() || self.wali_unrestricted
    }

    /// Checks what a grant set must satisfy whatever its origin: no NUL, no empty names,
    /// variable names without `=`, each guest directory and variable granted once.
    pub fn validate(&self) -> Result<(), CapError> {
        for (i, d) in self.dirs.iter().enumerate() {
            no_nul(&d.guest, "a guest directory name")?;
            no_nul(&d.host, "a host directory path")?;
            if d.guest.is_empty() || d.host.is_empty() {
                return Err(err("a directory grant needs a host path and a guest name"));
            }
            if self.dirs[..i].iter().any(|e| e.guest == d.guest) {
                return Err(err(alloc::format!(
                    "guest directory {} is granted twice",
                    lossy(&d.guest)
                )));
            }
        }
        for (i, e) in self.env.iter().enumerate() {
            let key = e.key();
            no_nul(key, "a variable name")?;
            if key.is_empty() || key.contains(&b'=') {
                return Err(err(alloc::format!(
                    "variable name {:?} must be non-empty and contain no '='",
                    lossy(key)
                )));
            }
            if let EnvGrant::Fixed { value, .. } = e {
                no_nul(value, "a variable's value")?;
            }
            if self.env[..i].iter().any(|o| o.key() == key) {
                return Err(err(alloc::format!(
                    "variable {} is granted twice",
                    lossy(key)
                )));
            }
        }
        for (i, g) in self.i2c.iter().enumerate() {
            no_nul(&g.label, "an i2c bus label")?;
            no_nul(&g.device, "an i2c device")?;
            if g.label.is_empty() || g.device.is_empty() || g.addresses.is_empty() {
                return Err(err(
                    "an i2c grant needs a label, a device and at least one address",
                ));
            }
            if let Some(a) = g.addresses.iter().find(|&&a| a > 0x7F) {
                return Err(err(alloc::format!(
                    "i2c address {a:#x} is not a 7-bit address"
                )));
            }
            if self.i2c[..i].iter().any(|o| o.label == g.label) {
                return Err(err(alloc::format!(
                    "i2c bus {} is granted twice",
                    lossy(&g.label)
                )));
            }
        }
        for (i, g) in self.usb.iter().enumerate() {
            if self.usb[..i]
                .iter()
                .any(|o| (o.vendor, o.product) == (g.vendor, g.product))
            {
                return Err(err(alloc::format!(
                    "usb device {:04x}:{:04x} is granted twice",
                    g.vendor,
                    g.product
                )));
            }
            for list in [&g.interfaces, &g.endpoints].into_iter().flatten() {
                if list.is_empty() {
                    return Err(err("a usb grant lists no interface or no endpoint"));
                }
                if list.iter().enumerate().any(|(j, x)| list[..j].contains(x)) {
                    return Err(err("a usb grant lists an interface or endpoint twice"));
                }
            }
            if let Some(ep) = g
                .endpoints
                .iter()
                .flatten()
                .find(|&&e| e & 0x70 != 0 || e & 0x0F == 0)
            {
                return Err(err(alloc::format!(
                    "{ep:#04x} is not an endpoint address (0x01..0x0f OUT, 0x81..0x8f IN; endpoint 0 is always reachable)"
                )));
            }
        }
        validate_net(&self.net)
    }
}

/// Net grants: `all` alone, `unix` once, port lists non-empty and no port granted twice for
/// the same use, no connection to port 0.
fn validate_net(net: &[NetGrant]) -> Result<(), CapError> {
    if net.len() > 1 && net.contains(&NetGrant::All) {
        return Err(err("--net all grants every socket already: give it alone"));
    }
    if net.iter().filter(|g| **g == NetGrant::Unix).count() > 1 {
        return Err(err("--net unix is granted twice"));
    }
    let mut connect: Vec<u16> = Vec::new();
    let mut bind: Vec<u16> = Vec::new();
    for g in net {
        let (ports, seen, what) = match g {
            NetGrant::TcpConnect(p) => (p, &mut connect, "tcp-connect"),
            NetGrant::TcpBind(p) => (p, &mut bind, "tcp-bind"),
            NetGrant::Unix | NetGrant::All => continue,
        };
        if ports.is_empty() {
            return Err(err(alloc::format!("a {what} grant lists no port")));
        }
        for &port in ports {
            if port == 0 && what == "tcp-connect" {
                return Err(err("tcp-connect port 0 is no port one can connect to"));
            }
            if seen.contains(&port) {
                return Err(err(alloc::format!("{what} port {port} is granted twice")));
            }
            seen.push(port);
        }
    }
    Ok(())
}

/// Parses `--net`'s `tcp-connect:PORT[,PORT...]`, `tcp-bind:PORT[,PORT...]`, `unix` or `all`.
pub fn parse_net_option(arg: &str) -> Result<NetGrant, CapError> {
    let usage = || {
        err(alloc::format!(
            "net grant {arg:?} must be tcp-connect:PORT[,PORT...], tcp-bind:PORT[,PORT...], unix or all"
        ))
    };
    let ports = |list: &str| -> Result<Vec<u16>, CapError> {
        list.split(',')
            .map(|p| {
                let p = p.trim();
                // Decimal only: a port is never written in hex.
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(alloc::format!("{p:?} is not a TCP port (0..65535)")));
                }
                p.parse::<u16>()
                    .map_err(|_| err(alloc::format!("{p:?} is not a TCP port (0..65535)")))
            })
            .collect()
    };
    let grant = match arg {
        "unix" => NetGrant::Unix,
        "all" => NetGrant::All,
        _ => match arg.split_once(':') {
            Some(("tcp-connect", list)) => NetGrant::TcpConnect(ports(list)?),
            Some(("tcp-bind", list)) => NetGrant::TcpBind(ports(list)?),
            _ => return Err(usage()),
        },
    };
    validate_net(core::slice::from_ref(&grant))?;
    Ok(grant)
}

/// A net grant the way `--net` spells it (`tcp-connect:80,443`).
pub fn format_net(g: &NetGrant) -> String {
    let list = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| alloc::format!("{p}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match g {
        NetGrant::TcpConnect(p) => alloc::format!("tcp-connect:{}", list(p)),
        NetGrant::TcpBind(p) => alloc::format!("tcp-bind:{}", list(p)),
        NetGrant::Unix => String::from("unix"),
        NetGrant::All => String::from("all"),
    }
}

fn no_nul(bytes: &[u8], what: &str) -> Result<(), CapError> {
    if bytes.contains(&0) {
        Err(err(alloc::format!("{what} cannot contain a NUL byte")))
    } else {
        Ok(())
    }
}

/// Parses `--dir`/`--ro-dir`'s `HOST[::GUEST]` (the guest name defaults to the host path).
pub fn parse_dir_option(arg: &str, read_only: bool) -> Result<DirGrant, CapError> {
    let (host, guest) = match arg.split_once("::") {
        Some((host, guest)) => (host, guest),
        None => (arg, arg),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(err(alloc::format!(
            "directory grant {arg:?} must be HOST or HOST::GUEST with both non-empty"
        )));
    }
    let grant = DirGrant {
        guest: guest.as_bytes().to_vec(),
        host: host.as_bytes().to_vec(),
        read_only,
    };
    Capabilities {
        dirs: alloc::vec![grant.clone()],
        ..Capabilities::default()
    }
    .validate()?;
    Ok(grant)
}

/// Parses `--env`'s `KEY=VALUE` (fixed) or `KEY` (passed through from where it runs).
pub fn parse_env_option(arg: &str) -> Result<EnvGrant, CapError> {
    let grant = match arg.split_once('=') {
        Some((key, value)) => EnvGrant::Fixed {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        },
        None => EnvGrant::Pass {
            key: arg.as_bytes().to_vec(),
        },
    };
    Capabilities {
        env: alloc::vec![grant.clone()],
        ..Capabilities::default()
    }
    .validate()?;
    Ok(grant)
}

/// `0x76,0x77`: the address list of an i2c grant.
pub fn format_addresses(addresses: &[u8]) -> String {
    let parts: Vec<String> = addresses
        .iter()
        .map(|a| alloc::format!("{a:#04x}"))
        .collect();
    parts.join(",")
}

/// Parses a comma-separated list of 7-bit addresses (`0x` hex or decimal), each once.
pub fn parse_addresses(list: &str) -> Result<Vec<u8>, CapError> {
    let mut out: Vec<u8> = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        let value = match item.strip_prefix("0x").or_else(|| item.strip_prefix("0X")) {
            Some(hex) => u16::from_str_radix(hex, 16),
            None => item.parse(),
        }
        .map_err(|_| err(alloc::format!("{item:?} is not an i2c address")))?;
        let addr = u8::try_from(value)
            .ok()
            .filter(|a| *a <= 0x7F)
            .ok_or_else(|| {
                err(alloc::format!(
                    "i2c address {item} is not a 7-bit address (0x00..0x7f)"
                ))
            })?;
        if out.contains(&addr) {
            return Err(err(alloc::format!("i2c address {item} is listed twice")));
        }
        out.push(addr);
    }
    Ok(out)
}

/// Parses `--i2c`'s `LABEL=DEVICE:ADDR[,ADDR...][:ro]`.
pub fn parse_i2c_option(arg: &str) -> Result<I2cGrant, CapError> {
    let usage = || {
        err(alloc::format!(
            "i2c grant {arg:?} must be LABEL=DEVICE:ADDR[,ADDR...][:ro]"
        ))
    };
    let (label, rest) = arg.split_once('=').ok_or_else(usage)?;
    let (rest, read_only) = match rest.strip_suffix(":ro") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (device, addresses) = rest.rsplit_once(':').ok_or_else(usage)?;
    let grant = I2cGrant {
        label: label.as_bytes().to_vec(),
        device: device.as_bytes().to_vec(),
        addresses: parse_addresses(addresses)?,
        read_only,
    };
    Capabilities {
        i2c: alloc::vec![grant.clone()],
        ..Capabilities::default()
    }
    .validate()?;
    Ok(grant)
}

fn parse_u8_list(list: &str, what: &str) -> Result<Vec<u8>, CapError> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            match item.strip_prefix("0x").or_else(|| item.strip_prefix("0X")) {
                Some(hex) => u8::from_str_radix(hex, 16),
                None => item.parse(),
            }
            .map_err(|_| err(alloc::format!("{item:?} is not {what}")))
        })
        .collect()
}

fn parse_id(text: &str) -> Option<u16> {
    if text.len() != 4 {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

/// Parses `--usb`'s `VID:PID[:if=N[,N...]][:ep=0xNN[,0xNN...]]` (ids as 4 hex digits).
pub fn parse_usb_option(arg: &str) -> Result<UsbGrant, CapError> {
    let usage = || {
        err(alloc::format!(
            "usb grant {arg:?} must be VID:PID[:if=N[,N...]][:ep=0xNN[,0xNN...]] with 4-digit hex ids"
        ))
    };
    let mut parts = arg.split(':');
    let vendor = parts.next().and_then(parse_id).ok_or_else(usage)?;
    let product = parts.next().and_then(parse_id).ok_or_else(usage)?;
    let mut grant = UsbGrant {
        vendor,
        product,
        interfaces: None,
        endpoints: None,
    };
    for part in parts {
        if let Some(list) = part.strip_prefix("if=") {
            if grant.interfaces.is_some() {
                return Err(usage());
            }
            grant.interfaces = Some(parse_u8_list(list, "an interface number")?);
        } else if let Some(list) = part.strip_prefix("ep=") {
            if grant.endpoints.is_some() {
                return Err(usage());
            }
            grant.endpoints = Some(parse_u8_list(list, "an endpoint address")?);
        } else {
            return Err(usage());
        }
    }
    Capabilities {
        usb: alloc::vec![grant.clone()],
        ..Capabilities::default()
    }
    .validate()?;
    Ok(grant)
}

/// `2341:8057`, and the grant's limits the way `--usb` spells them (` if=0 ep=0x81,0x01`).
pub fn format_usb(g: &UsbGrant) -> String {
    let mut out = alloc::format!("{:04x}:{:04x}", g.vendor, g.product);
    if let Some(list) = &g.interfaces {
        let items: Vec<String> = list.iter().map(|i| alloc::format!("{i}")).collect();
        out.push_str(&alloc::format!(":if={}", items.join(",")));
    }
    if let Some(list) = &g.endpoints {
        out.push_str(&alloc::format!(":ep={}", format_addresses(list)));
    }
    out
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    out.push(b'\t');
    for &b in field {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// The encoding of `caps` (validated first): version 1, or version 2 when it holds a `net`
/// or `wali` grant.
pub fn encode(caps: &Capabilities) -> Result<Vec<u8>, CapError> {
    caps.validate()?;
    let mut out = Vec::new();
    let header = if caps.needs_v2() { HEADER_V2 } else { HEADER };
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    for d in &caps.dirs {
        out.extend_from_slice(b"dir");
        push_field(&mut out, &d.guest);
        push_field(&mut out, &d.host);
        push_field(&mut out, if d.read_only { b"ro" } else { b"rw" });
        out.push(b'\n');
    }
    for e in &caps.env {
        match e {
            EnvGrant::Fixed { key, value } => {
                out.extend_from_slice(b"env");
                push_field(&mut out, key);
                push_field(&mut out, value);
            }
            EnvGrant::Pass { key } => {
                out.extend_from_slice(b"env-pass");
                push_field(&mut out, key);
            }
        }
        out.push(b'\n');
    }
    for g in &caps.i2c {
        out.extend_from_slice(b"i2c");
        push_field(&mut out, &g.label);
        push_field(&mut out, &g.device);
        push_field(&mut out, format_addresses(&g.addresses).as_bytes());
        push_field(&mut out, if g.read_only { b"ro" } else { b"rw" });
        out.push(b'\n');
    }
    for g in &caps.usb {
        out.extend_from_slice(b"usb");
        push_field(
            &mut out,
            alloc::format!("{:04x}:{:04x}", g.vendor, g.product).as_bytes(),
        );
        let interfaces = g.interfaces.as_ref().map_or(String::from("*"), |l| {
            l.iter()
                .map(|i| alloc::format!("{i}"))
                .collect::<Vec<_>>()
                .join(",")
        });
        push_field(&mut out, interfaces.as_bytes());
        let endpoints = g
            .endpoints
            .as_ref()
            .map_or(String::from("*"), |l| format_addresses(l));
        push_field(&mut out, endpoints.as_bytes());
        out.push(b'\n');
    }
    for g in &caps.net {
        out.extend_from_slice(b"net");
        push_field(&mut out, format_net(g).as_bytes());
        out.push(b'\n');
    }
    if caps.wali_unrestricted {
        out.extend_from_slice(b"wali");
        push_field(&mut out, b"unrestricted");
        out.push(b'\n');
    }
    Ok(out)
}

fn unescape(field: &[u8]) -> Result<Vec<u8>, CapError> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next() {
            Some(b'\\') => b'\\',
            Some(b't') => b'\t',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            _ => return Err(err("bad escape in a capability field")),
        });
    }
    Ok(out)
}

/// Decodes what [`encode`] wrote; the empty byte string is the empty set.
pub fn decode(bytes: &[u8]) -> Result<Capabilities, CapError> {
    let mut caps = Capabilities::default();
    if bytes.is_empty() {
        return Ok(caps);
    }
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or_else(|| err("capabilities do not end with a newline"))?;
    let mut lines = body.split(|&b| b == b'\n');
    let header = lines.next().unwrap_or_default();
    let v2 = header == HEADER_V2.as_bytes();
    if header != HEADER.as_bytes() && !v2 {
        return Err(err(alloc::format!(
            "capabilities start with {:?}, not {HEADER:?} or {HEADER_V2:?}: built by another version of wafer",
            lossy(header)
        )));
    }
    for line in lines {
        let mut fields = line.split(|&b| b == b'\t');
        let kind = fields.next().unwrap_or_default();
        let rest: Vec<Vec<u8>> = fields.map(unescape).collect::<Result<_, _>>()?;
        match (kind, rest.as_slice()) {
            (b"dir", [guest, host, mode]) => caps.dirs.push(DirGrant {
                guest: guest.clone(),
                host: host.clone(),
                read_only: match mode.as_slice() {
                    b"ro" => true,
                    b"rw" => false,
                    _ => return Err(err("a directory grant is neither rw nor ro")),
                },
            }),
            (b"env", [key, value]) => caps.env.push(EnvGrant::Fixed {
                key: key.clone(),
                value: value.clone(),
            }),
            (b"env-pass", [key]) => caps.env.push(EnvGrant::Pass { key: key.clone() }),
            (b"i2c", [label, device, addresses, mode]) => caps.i2c.push(I2cGrant {
                label: label.clone(),
                device: device.clone(),
                addresses: parse_addresses(&lossy(addresses))?,
                read_only: match mode.as_slice() {
                    b"ro" => true,
                    b"rw" => false,
                    _ => return Err(err("an i2c grant is neither rw nor ro")),
                },
            }),
            (b"usb", [ids, interfaces, endpoints]) => {
                let bad = || err("a usb grant is not <vid>:<pid> <interfaces> <endpoints>");
                let ids = lossy(ids);
                let (v, p) = ids.split_once(':').ok_or_else(bad)?;
                let list = |field: &[u8], what: &str| -> Result<Option<Vec<u8>>, CapError> {
                    match field {
                        b"*" => Ok(None),
                        f => parse_u8_list(&lossy(f), what).map(Some),
                    }
                };
                caps.usb.push(UsbGrant {
                    vendor: parse_id(v).ok_or_else(bad)?,
                    product: parse_id(p).ok_or_else(bad)?,
                    interfaces: list(interfaces, "an interface number")?,
                    endpoints: list(endpoints, "an endpoint address")?,
                });
            }
            (b"net", [grant]) if v2 => caps.net.push(parse_net_option(&lossy(grant))?),
            (b"wali", [mode]) if v2 && mode == b"unrestricted" && !caps.wali_unrestricted => {
                caps.wali_unrestricted = true
            }
            _ => {
                return Err(err(alloc::format!(
                    "unknown capability line {:?}",
                    lossy(line)
                )))
            }
        }
    }
    caps.validate()?;
    Ok(caps)
}

/// Re-pointings: (guest name, new host path) pairs.
pub type DirMap = Vec<(Vec<u8>, Vec<u8>)>;

/// Parses [`DIR_MAP_ENV`]'s value: `<guest>=<host>` pairs separated by commas (so neither a
/// re-pointed guest name nor its new host path can contain a comma, and a guest name cannot
/// contain `=`). Empty items are ignored.
pub fn parse_dir_map(value: &[u8]) -> Result<DirMap, CapError> {
    let mut out: DirMap = Vec::new();
    for item in value.split(|&b| b == b',').filter(|i| !i.is_empty()) {
        let eq = item.iter().position(|&b| b == b'=').ok_or_else(|| {
            err(alloc::format!(
                "{DIR_MAP_ENV}: {:?} is not <guest>=<host path>",
                lossy(item)
            ))
        })?;
        let (guest, host) = (&item[..eq], &item[eq + 1..]);
        if guest.is_empty() || host.is_empty() {
            return Err(err(alloc::format!(
                "{DIR_MAP_ENV}: {:?} needs a guest name and a host path",
                lossy(item)
            )));
        }
        if out.iter().any(|(g, _)| g == guest) {
            return Err(err(alloc::format!(
                "{DIR_MAP_ENV}: {} is re-pointed twice",
                lossy(guest)
            )));
        }
        out.push((guest.to_vec(), host.to_vec()));
    }
    Ok(out)
}

/// Re-points granted directories: each guest name in `map` must be one the build granted; only
/// its host path changes (its read-only flag stays, nothing is added).
pub fn apply_dir_map(caps: &mut Capabilities, map: &[(Vec<u8>, Vec<u8>)]) -> Result<(), CapError> {
    for (guest, host) in map {
        no_nul(host, "a host directory path")?;
        let Some(dir) = caps.dirs.iter_mut().find(|d| &d.guest == guest) else {
            let granted: Vec<String> = caps.dirs.iter().map(|d| lossy(&d.guest)).collect();
            return Err(err(alloc::format!(
                "{DIR_MAP_ENV} re-points {}, which this executable was not granted (granted: {})",
                lossy(guest),
                if granted.is_empty() {
                    String::from("no directory")
                } else {
                    granted.join(", ")
                }
            )));
        };
        dir.host = host.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> Capabilities {
        Capabilities {
            dirs: vec![
                DirGrant {
                    guest: b"/data".to_vec(),
                    host: b"/srv/data".to_vec(),
                    read_only: false,
                },
                DirGrant {
                    guest: b"cfg".to_vec(),
                    host: b"/etc/odd\tname\\with\nnewline\r".to_vec(),
                    read_only: true,
                },
            ],
            env: vec![
                EnvGrant::Fixed {
                    key: b"MODE".to_vec(),
                    value: b"a=b\tc\\n".to_vec(),
                },
                EnvGrant::Pass {
                    key: b"HOME".to_vec(),
                },
            ],
            i2c: Vec::new(),
            usb: Vec::new(),
            net: Vec::new(),
            wali_unrestricted: false,
        }
    }

    #[test]
    fn net_and_wali_grants_round_trip_as_version_2() {
        let connect = parse_net_option("tcp-connect:80,443").unwrap();
        assert_eq!(connect, NetGrant::TcpConnect(vec![80, 443]));
        assert_eq!(
            parse_net_option("tcp-bind:0").unwrap(),
            NetGrant::TcpBind(vec![0])
        );
        assert_eq!(parse_net_option("unix").unwrap(), NetGrant::Unix);
        assert_eq!(parse_net_option("all").unwrap(), NetGrant::All);
        assert_eq!(format_net(&connect), "tcp-connect:80,443");
        for bad in [
            "tcp",
            "tcp-connect",
            "tcp-connect:",
            "tcp-connect:0",
            "tcp-connect:65536",
            "tcp-connect:0x50",
            "tcp-connect:80,80",
            "tcp-connect:-1",
            "tcp-bind:80,,81",
            "udp:53",
            "ALL",
            "unix:/run/x.sock",
        ] {
            assert!(parse_net_option(bad).is_err(), "{bad}");
        }
        let caps = Capabilities {
            net: vec![connect, NetGrant::TcpBind(vec![8080]), NetGrant::Unix],
            wali_unrestricted: false,
            ..sample()
        };
        let bytes = encode(&caps).unwrap();
        assert!(bytes.starts_with(b"wafer-capabilities 2\n"));
        assert!(bytes.ends_with(b"net\ttcp-connect:80,443\nnet\ttcp-bind:8080\nnet\tunix\n"));
        assert_eq!(decode(&bytes).unwrap(), caps);

        let unrestricted = Capabilities {
            wali_unrestricted: true,
            ..Capabilities::default()
        };
        let bytes = encode(&unrestricted).unwrap();
        assert_eq!(bytes, b"wafer-capabilities 2\nwali\tunrestricted\n");
        assert_eq!(decode(&bytes).unwrap(), unrestricted);
        assert!(!unrestricted.is_empty());

        // Without version-2 grants the encoding stays version 1, byte for byte.
        assert!(encode(&sample())
            .unwrap()
            .starts_with(b"wafer-capabilities 1\n"));
        // Refused: version-2 lines under a version-1 header, repeated or contradictory
        // grants, unknown modes.
        for bad in [
            &b"wafer-capabilities 1\nnet\tunix\n"[..],
            b"wafer-capabilities 1\nwali\tunrestricted\n",
            b"wafer-capabilities 2\nwali\trestricted\n",
            b"wafer-capabilities 2\nwali\tunrestricted\nwali\tunrestricted\n",
            b"wafer-capabilities 2\nnet\tall\nnet\tunix\n",
            b"wafer-capabilities 2\nnet\tunix\nnet\tunix\n",
            b"wafer-capabilities 2\nnet\ttcp-connect:80\nnet\ttcp-connect:81,80\n",
            b"wafer-capabilities 2\nnet\tudp:53\n",
            b"wafer-capabilities 2\nnet\n",
            b"wafer-capabilities 3\n",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        // The same port may be granted for connecting and for binding.
        assert!(Capabilities {
            net: vec![NetGrant::TcpConnect(vec![80]), NetGrant::TcpBind(vec![80])],
            ..Capabilities::default()
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn usb_grants_round_trip_and_parse() {
        let all = parse_usb_option("2341:8057").unwrap();
        assert_eq!((all.vendor, all.product), (0x2341, 0x8057));
        assert_eq!(
            (all.interfaces.clone(), all.endpoints.clone()),
            (None, None)
        );
        let some = parse_usb_option("046d:C52B:if=0,1:ep=0x81,0x01").unwrap();
        assert_eq!(some.interfaces, Some(vec![0, 1]));
        assert_eq!(some.endpoints, Some(vec![0x81, 0x01]));
        assert_eq!(format_usb(&some), "046d:c52b:if=0,1:ep=0x81,0x01");
        let caps = Capabilities {
            usb: vec![all, some],
            ..sample()
        };
        let bytes = encode(&caps).unwrap();
        assert!(bytes.ends_with(b"usb\t2341:8057\t*\t*\nusb\t046d:c52b\t0,1\t0x81,0x01\n"));
        assert_eq!(decode(&bytes).unwrap(), caps);
        for bad in [
            "2341",
            "2341:80570",
            "234:8057",
            "zzzz:8057",
            "2341:8057:",
            "2341:8057:if=",
            "2341:8057:if=0,0",
            "2341:8057:ep=0x00",
            "2341:8057:ep=0x80",
            "2341:8057:ep=0x91",
            "2341:8057:if=0:if=1",
            "2341:8057:bus=1",
        ] {
            assert!(parse_usb_option(bad).is_err(), "{bad}");
        }
        assert!(
            decode(b"wafer-capabilities 1\nusb\t2341:8057\t*\t*\nusb\t2341:8057\t0\t*\n").is_err()
        );
        assert!(decode(b"wafer-capabilities 1\nusb\t2341-8057\t*\t*\n").is_err());
    }

    #[test]
    fn i2c_grants_round_trip_and_parse() {
        let g = parse_i2c_option("sensors=/dev/i2c-1:0x76,0x77").unwrap();
        assert_eq!(g.device, b"/dev/i2c-1");
        assert_eq!(g.addresses, vec![0x76, 0x77]);
        assert!(!g.read_only);
        let ro = parse_i2c_option("eeprom=/dev/i2c-0:80:ro").unwrap();
        assert_eq!((ro.addresses.clone(), ro.read_only), (vec![0x50], true));
        let caps = Capabilities {
            i2c: vec![g, ro],
            ..sample()
        };
        let bytes = encode(&caps).unwrap();
        assert!(bytes.ends_with(
            b"i2c\tsensors\t/dev/i2c-1\t0x76,0x77\trw\ni2c\teeprom\t/dev/i2c-0\t0x50\tro\n"
        ));
        assert_eq!(decode(&bytes).unwrap(), caps);
        for bad in [
            "sensors",
            "sensors=/dev/i2c-1",
            "=/dev/i2c-1:0x76",
            "s=:0x76",
            "s=/dev/i2c-1:0x80",
            "s=/dev/i2c-1:0x176",
            "s=/dev/i2c-1:0x76,0x76",
            "s=/dev/i2c-1:",
            "s=/dev/i2c-1:lots",
        ] {
            assert!(parse_i2c_option(bad).is_err(), "{bad}");
        }
        assert!(decode(b"wafer-capabilities 1\ni2c\ta\t/dev/i2c-1\t0x76\trx\n").is_err());
        assert!(decode(b"wafer-capabilities 1\ni2c\ta\t/dev/i2c-1\t0x99\trw\n").is_err());
    }

    #[test]
    fn round_trips_with_escapes() {
        let caps = sample();
        let bytes = encode(&caps).unwrap();
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 5);
        assert!(bytes.starts_with(b"wafer-capabilities 1\ndir\t/data\t/srv/data\trw\n"));
        assert_eq!(decode(&bytes).unwrap(), caps);
        assert_eq!(decode(b"").unwrap(), Capabilities::default());
        assert_eq!(
            decode(&encode(&Capabilities::default()).unwrap()).unwrap(),
            Capabilities::default()
        );
    }

    #[test]
    fn refuses_bad_encodings() {
        for bad in [
            &b"wafer-capabilities 3\n"[..],
            b"wafer-capabilities 1",
            b"wafer-capabilities 1\ndir\ta\tb\n",
            b"wafer-capabilities 1\ndir\ta\tb\trx\n",
            b"wafer-capabilities 1\nenv\tK\n",
            b"wafer-capabilities 1\nenv\tK=\tv\n",
            b"wafer-capabilities 1\nnet\tall\n",
            b"wafer-capabilities 1\nenv\tK\tv\\x\n",
            b"wafer-capabilities 1\nenv\tK\tv\nenv-pass\tK\n",
            b"wafer-capabilities 1\ndir\ta\tb\tro\ndir\ta\tc\trw\n",
            b"wafer-capabilities 1\ndir\ta\tb\0c\tro\n",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn options_parse() {
        let d = parse_dir_option("/srv/x::/x", true).unwrap();
        assert_eq!(
            (d.host.as_slice(), d.guest.as_slice()),
            (&b"/srv/x"[..], &b"/x"[..])
        );
        assert!(d.read_only);
        let d = parse_dir_option("data", false).unwrap();
        assert_eq!(d.guest, b"data");
        assert!(parse_dir_option("::x", false).is_err());
        assert!(parse_dir_option("x::", false).is_err());
        assert_eq!(
            parse_env_option("A=b=c").unwrap(),
            EnvGrant::Fixed {
                key: b"A".to_vec(),
                value: b"b=c".to_vec()
            }
        );
        assert_eq!(
            parse_env_option("PATH").unwrap(),
            EnvGrant::Pass {
                key: b"PATH".to_vec()
            }
        );
        assert!(parse_env_option("=x").is_err());
        assert!(parse_env_option("").is_err());
    }

    #[test]
    fn dir_map_repoints_but_never_widens() {
        let mut caps = sample();
        let map = parse_dir_map(b"/data=/mnt/sd/data,,cfg=/opt/cfg").unwrap();
        apply_dir_map(&mut caps, &map).unwrap();
        assert_eq!(caps.dirs[0].host, b"/mnt/sd/data");
        assert!(!caps.dirs[0].read_only);
        assert_eq!(caps.dirs[1].host, b"/opt/cfg");
        assert!(caps.dirs[1].read_only, "read-only stays read-only");
        assert_eq!(caps.dirs.len(), 2);

        let unknown = parse_dir_map(b"/etc=/etc").unwrap();
        let e = apply_dir_map(&mut caps, &unknown).unwrap_err();
        assert!(e.0.contains("not granted"), "{e}");
        assert!(parse_dir_map(b"nohost").is_err());
        assert!(parse_dir_map(b"=x").is_err());
        assert!(parse_dir_map(b"a=").is_err());
        assert!(parse_dir_map(b"a=x,a=y").is_err());
    }
}
