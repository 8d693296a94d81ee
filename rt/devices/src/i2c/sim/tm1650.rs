//! Titan Micro TM1650, a 4-digit 7-segment LED controller on a two-wire bus. It has no
//! registers behind one address: each command is its own address, which is how drivers reach
//! it over I2C. Writing one byte to 0x24 (the datasheet's 0x48 write) sets the display
//! control: bit 0 display on, bits 6:4 brightness (0 means the brightest, 8; 1–7 as they
//! are), bit 3 seven-segment mode. Writing one byte to 0x34–0x37 (0x68, 0x6A, 0x6C, 0x6E)
//! sets digit 1–4: segments a–g in bits 0–6, the decimal point in bit 7. Reading 0x24 (the
//! 0x49 read) answers the key-scan code; no keys are attached here, so it is 0.
//!
//! The model is two attachments sharing one state (the control address and the four digit
//! addresses); the display is dumped like an LCD's screen.

use std::sync::{Arc, Mutex};

use super::device::Device;

/// Offset of the digit addresses from the control address.
pub const DIGITS_OFFSET: u8 = 0x10;

#[derive(Default)]
struct State {
    control: u8,
    digits: [u8; 4],
}

/// Which of the controller's addresses an attachment answers.
enum Part {
    Control,
    Digits,
}

pub struct Tm1650 {
    state: Arc<Mutex<State>>,
    part: Part,
    /// The address of the current start within the part (the digit, for `Digits`).
    offset: u8,
    written: u8,
}

/// The control attachment (at the configured address) and the digits attachment (at
/// [`DIGITS_OFFSET`] past it).
pub fn new() -> (Tm1650, Tm1650) {
    let state = Arc::new(Mutex::new(State::default()));
    let part = |part| Tm1650 {
        state: Arc::clone(&state),
        part,
        offset: 0,
        written: 0,
    };
    (part(Part::Control), part(Part::Digits))
}

/// The character a segment pattern shows (`?` for a pattern that is none of these).
fn glyph(segments: u8) -> char {
    const GLYPHS: &[(u8, char)] = &[
        (0x00, ' '),
        (0x3F, '0'),
        (0x06, '1'),
        (0x5B, '2'),
        (0x4F, '3'),
        (0x66, '4'),
        (0x6D, '5'),
        (0x7D, '6'),
        (0x07, '7'),
        (0x7F, '8'),
        (0x6F, '9'),
        (0x77, 'A'),
        (0x7C, 'b'),
        (0x39, 'C'),
        (0x5E, 'd'),
        (0x79, 'E'),
        (0x71, 'F'),
        (0x76, 'H'),
        (0x38, 'L'),
        (0x73, 'P'),
        (0x3E, 'U'),
        (0x40, '-'),
        (0x08, '_'),
        (0x63, '°'),
    ];
    GLYPHS
        .iter()
        .find(|(s, _)| *s == segments & 0x7F)
        .map_or('?', |(_, c)| *c)
}

impl Tm1650 {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Device for Tm1650 {
    fn span(&self) -> u8 {
        match self.part {
            Part::Control => 1,
            Part::Digits => 4,
        }
    }

    fn start(&mut self, offset: u8, read: bool) {
        self.offset = offset;
        if !read {
            self.written = 0;
        }
    }

    fn write(&mut self, byte: u8) -> bool {
        // One data byte per command; the controller does not acknowledge a second.
        if self.written > 0 {
            return false;
        }
        self.written = 1;
        let offset = self.offset as usize;
        let mut s = self.lock();
        match self.part {
            Part::Control => s.control = byte,
            Part::Digits => s.digits[offset] = byte,
        }
        true
    }

    fn read(&mut self) -> u8 {
        0
    }

    fn stop(&mut self) {}

    fn dump(&self) -> Option<String> {
        let Part::Control = self.part else {
            return None;
        };
        let s = self.lock();
        let on = s.control & 1 != 0;
        let brightness = match (s.control >> 4) & 7 {
            0 => 8,
            b => b,
        };
        let mut text = String::new();
        for d in s.digits {
            text.push(glyph(d));
            if d & 0x80 != 0 {
                text.push('.');
            }
        }
        Some(format!(
            "[{}] display {}, brightness {brightness}/8\n",
            if on { text } else { " ".repeat(4) },
            if on { "on" } else { "off" },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(d: &mut Tm1650, offset: u8, byte: u8) -> bool {
        d.start(offset, false);
        let ok = d.write(byte);
        d.stop();
        ok
    }

    #[test]
    fn digits_and_control_make_the_display() {
        let (mut control, mut digits) = new();
        assert_eq!(
            control.dump().unwrap(),
            "[    ] display off, brightness 8/8\n"
        );
        // "12.34" at brightness 3, the way drivers write it: control, then four digits.
        assert!(write(&mut control, 0, 0x31));
        for (i, seg) in [0x06u8, 0x5B | 0x80, 0x4F, 0x66].into_iter().enumerate() {
            assert!(write(&mut digits, i as u8, seg));
        }
        assert_eq!(
            control.dump().unwrap(),
            "[12.34] display on, brightness 3/8\n"
        );
        assert!(digits.dump().is_none(), "one dump per controller");
        // A second data byte is not acknowledged; the key scan reads 0.
        digits.start(0, false);
        assert!(digits.write(0x3F));
        assert!(!digits.write(0x3F));
        control.start(0, true);
        assert_eq!(control.read(), 0);
        assert_eq!(glyph(0x12), '?');
    }
}
