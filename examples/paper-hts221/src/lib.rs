//! `get-temperature(connection)` and `get-humidity(connection)`: one-shot readings of an ST
//! HTS221 at 0x5F, converted with the part's own calibration registers as its datasheet says,
//! as the 2024 WASI-I2C prototype's sensor guest did. Answers text such as `"24.0 C"`.

wit_bindgen::generate!({
    path: ["../../wit/deps/i2c", "wit"],
    generate_all,
    world: "paper:hts221/sensor",
});


const ADDRESS: u16 = 0x5F;
const WHO_AM_I: u8 = 0x0F;
const CTRL_REG1: u8 = 0x20;
const CTRL_REG2: u8 = 0x21;
const STATUS: u8 = 0x27;

fn reg(bus: &I2c, r: u8) -> Result<u8, ErrorCode> {
    let got = bus.write_read(ADDRESS, &[r], 1)?;
    got.first().copied().ok_or(ErrorCode::Other)
}

fn reg16(bus: &I2c, r: u8) -> Result<i16, ErrorCode> {
    Ok(i16::from_le_bytes([reg(bus, r)?, reg(bus, r + 1)?]))
}

/// Powers the part up, takes one sample and waits until both outputs are new.
fn sample(bus: &I2c) -> Result<(), ErrorCode> {
    if reg(bus, WHO_AM_I)? != 0xBC {
        return Err(ErrorCode::Other);
    }
    bus.write(ADDRESS, &[CTRL_REG1, 0x80])?; // power on, one-shot mode
    bus.write(ADDRESS, &[CTRL_REG2, 0x01])?; // start a conversion
    for _ in 0..1000 {
        if reg(bus, STATUS)? & 0b11 == 0b11 {
            return Ok(());
        }
    }
    Err(ErrorCode::Other)
}

/// The datasheet's linear interpolation between the two calibration points.
fn interpolate(raw: i16, (x0, y0): (i16, f64), (x1, y1): (i16, f64)) -> f64 {
    y0 + (raw as f64 - x0 as f64) * (y1 - y0) / (x1 as f64 - x0 as f64)
}

struct Sensor;

impl Guest for Sensor {
    fn get_temperature(connection: I2c) -> Result<String, ErrorCode> {
        let bus = &connection;
        sample(bus)?;
        let msb = reg(bus, 0x35)?;
        let t0 = (((msb as u16 & 0x3) << 8) | reg(bus, 0x32)? as u16) as f64 / 8.0;
        let t1 = (((msb as u16 & 0xC) << 6) | reg(bus, 0x33)? as u16) as f64 / 8.0;
        let t = interpolate(
            reg16(bus, 0x2A)?,
            (reg16(bus, 0x3C)?, t0),
            (reg16(bus, 0x3E)?, t1),
        );
        Ok(format!("{t:.1} C"))
    }

    fn get_humidity(connection: I2c) -> Result<String, ErrorCode> {
        let bus = &connection;
        sample(bus)?;
        let h0 = reg(bus, 0x30)? as f64 / 2.0;
        let h1 = reg(bus, 0x31)? as f64 / 2.0;
        let h = interpolate(
            reg16(bus, 0x28)?,
            (reg16(bus, 0x36)?, h0),
            (reg16(bus, 0x3A)?, h1),
        );
        Ok(format!("{h:.1} %RH"))
    }
}

export!(Sensor);
