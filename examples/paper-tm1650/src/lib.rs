//! `show(connection, digits)`: four characters (`0`-`9`, `-`, space; a `.` after a character
//! lights its decimal point) on a TM1650 4-digit 7-segment controller, as the 2024 WASI-I2C
//! prototype's 7-segment guest did: six one-byte writes per update, the display switched off
//! (system command at 0x24), the four digit registers (0x34-0x37) written, and the display
//! switched on again at brightness 2 of 8.

wit_bindgen::generate!({
    path: ["../../wit/deps/i2c", "wit"],
    world: "paper:tm1650/segments",
    generate_all,
});

const SYSTEM: u16 = 0x24;
const DIGIT0: u16 = 0x34;
const DISPLAY_OFF: u8 = 0x00;
/// Display on, brightness 2 (bits 6:4), 8-segment mode.
const DISPLAY_ON: u8 = 0x21;
const POINT: u8 = 0x80;

/// Segments a..g (bits 0..6) of a character.
fn segments(c: char) -> Option<u8> {
    const DIGITS: [u8; 10] = [0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F];
    match c {
        '0'..='9' => Some(DIGITS[c as usize - '0' as usize]),
        '-' => Some(0x40),
        ' ' => Some(0x00),
        _ => None,
    }
}

/// The four digit bytes of `text`.
fn digits(text: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for c in text.chars() {
        if c == '.' && n > 0 {
            out[n - 1] |= POINT;
            continue;
        }
        if n == 4 {
            return None;
        }
        out[n] = segments(c)?;
        n += 1;
    }
    Some(out)
}

struct Segments;

impl Guest for Segments {
    fn show(connection: I2c, text: String) -> Result<(), ErrorCode> {
        let bytes = digits(&text).ok_or(ErrorCode::Other)?;
        connection.write(SYSTEM, &[DISPLAY_OFF])?;
        for (i, b) in bytes.iter().enumerate() {
            connection.write(DIGIT0 + i as u16, &[*b])?;
        }
        connection.write(SYSTEM, &[DISPLAY_ON])
    }
}

export!(Segments);
