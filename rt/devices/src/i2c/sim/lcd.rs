//! An HD44780 character LCD behind a PCF8574 I/O expander (the common "I2C backpack"), wired
//! P0=RS, P1=RW, P2=E, P3=backlight, P4..P7=D4..D7.
//!
//! The expander latches each written byte onto its pins and reads back the pins (outputs
//! written high read as inputs, so the LCD can drive D4..D7 while RW and E are high). The LCD
//! latches the data lines on each falling edge of E. It powers up in 8-bit mode, where every
//! edge is a whole instruction with D0..D3 low, until a function set with DL=0 selects 4-bit
//! mode; then two edges (high nibble first) make one byte. Implemented: clear, home, entry
//! mode, display control, cursor/display shift, function set, CGRAM and DDRAM addresses, data
//! writes, and the busy-flag/address read (never busy: instructions complete at once).

use super::device::Device;

const RS: u8 = 1 << 0;
const RW: u8 = 1 << 1;
const E: u8 = 1 << 2;
const BACKLIGHT: u8 = 1 << 3;

pub struct Lcd {
    cols: usize,
    rows: usize,
    pins: u8,
    four_bit: bool,
    /// High nibble of a byte in 4-bit mode, waiting for its low half.
    high_nibble: Option<u8>,
    two_lines: bool,
    ddram: [u8; 128],
    cgram: [u8; 64],
    /// Address counter; `in_cgram` says which RAM it points into.
    ac: u8,
    in_cgram: bool,
    increment: bool,
    shift_on_write: bool,
    display_on: bool,
    cursor_on: bool,
    blink_on: bool,
    /// Display shift in characters (positive: contents moved left).
    shift: i32,
    /// Nibble the LCD drives on D4..D7 during a read.
    read_nibble_high: bool,
}

impl Lcd {
    pub fn new(cols: usize, rows: usize) -> Lcd {
        Lcd {
            cols,
            rows,
            // The PCF8574 powers up with every pin high.
            pins: 0xFF,
            four_bit: false,
            high_nibble: None,
            two_lines: false,
            ddram: [b' '; 128],
            cgram: [0; 64],
            ac: 0,
            in_cgram: false,
            increment: true,
            shift_on_write: false,
            display_on: false,
            cursor_on: false,
            blink_on: false,
            shift: 0,
            read_nibble_high: true,
        }
    }

    /// Columns and rows of a `COLSxROWS` size (16x2, 20x4, ...).
    pub fn parse_size(size: &str) -> Option<(usize, usize)> {
        let (c, r) = size.split_once('x')?;
        let (c, r) = (c.parse().ok()?, r.parse().ok()?);
        ((1..=40).contains(&c) && (1..=4).contains(&r)).then_some((c, r))
    }

    /// DDRAM address of the first character of `row` (two-line addressing: rows 2 and 3
    /// continue rows 0 and 1 on 4-row modules).
    fn row_start(&self, row: usize) -> usize {
        let base = if row % 2 == 1 { 0x40 } else { 0 };
        base + if row >= 2 { self.cols } else { 0 }
    }

    fn step_ac(&mut self) {
        if self.in_cgram {
            self.ac = if self.increment {
                (self.ac + 1) & 0x3F
            } else {
                self.ac.wrapping_sub(1) & 0x3F
            };
            return;
        }
        // Two-line mode: 0x00..0x27 and 0x40..0x67, wrapping into each other.
        self.ac = match (self.two_lines, self.increment, self.ac) {
            (true, true, 0x27) => 0x40,
            (true, true, 0x67) => 0x00,
            (true, false, 0x40) => 0x27,
            (true, false, 0x00) => 0x67,
            (false, true, 0x4F) => 0x00,
            (false, false, 0x00) => 0x4F,
            (_, true, a) => a + 1,
            (_, false, a) => a - 1,
        };
    }

    fn instruction(&mut self, byte: u8) {
        if byte & 0x80 != 0 {
            self.ac = byte & 0x7F;
            self.in_cgram = false;
        } else if byte & 0x40 != 0 {
            self.ac = byte & 0x3F;
            self.in_cgram = true;
        } else if byte & 0x20 != 0 {
            self.four_bit = byte & 0x10 == 0;
            self.two_lines = byte & 0x08 != 0;
        } else if byte & 0x10 != 0 {
            let right = byte & 0x04 != 0;
            if byte & 0x08 != 0 {
                self.shift += if right { -1 } else { 1 };
            } else {
                // Moves the cursor only: the entry mode's direction stays.
                let saved = self.increment;
                self.increment = right;
                self.step_ac();
                self.increment = saved;
            }
        } else if byte & 0x08 != 0 {
            self.display_on = byte & 0x04 != 0;
            self.cursor_on = byte & 0x02 != 0;
            self.blink_on = byte & 0x01 != 0;
        } else if byte & 0x04 != 0 {
            self.increment = byte & 0x02 != 0;
            self.shift_on_write = byte & 0x01 != 0;
        } else if byte & 0x02 != 0 {
            self.ac = 0;
            self.in_cgram = false;
            self.shift = 0;
        } else if byte & 0x01 != 0 {
            self.ddram = [b' '; 128];
            self.ac = 0;
            self.in_cgram = false;
            self.shift = 0;
            self.increment = true;
        }
    }

    fn data(&mut self, byte: u8) {
        if self.in_cgram {
            self.cgram[self.ac as usize & 0x3F] = byte;
        } else {
            self.ddram[self.ac as usize & 0x7F] = byte;
            if self.shift_on_write {
                self.shift += if self.increment { 1 } else { -1 };
            }
        }
        self.step_ac();
    }

    /// One falling edge of E with the pins as they were while E was high.
    fn strobe(&mut self, pins: u8) {
        let nibble = pins >> 4;
        if pins & RW != 0 {
            // A read: the controller has taken the nibble; the next read gives the other one.
            self.read_nibble_high = !self.four_bit || !self.read_nibble_high;
            return;
        }
        let byte = if self.four_bit {
            match self.high_nibble.take() {
                None => {
                    self.high_nibble = Some(nibble);
                    return;
                }
                Some(high) => (high << 4) | nibble,
            }
        } else {
            nibble << 4
        };
        if pins & RS != 0 {
            self.data(byte);
        } else {
            self.instruction(byte);
        }
    }

    /// The byte the LCD drives during a read (busy flag and address, or data).
    fn read_byte(&self, rs: bool) -> u8 {
        if rs {
            if self.in_cgram {
                self.cgram[self.ac as usize & 0x3F]
            } else {
                self.ddram[self.ac as usize & 0x7F]
            }
        } else {
            self.ac & 0x7F
        }
    }

    /// The visible characters, one string per row.
    pub fn screen(&self) -> Vec<String> {
        let line_len: i32 = if self.two_lines { 40 } else { 80 };
        (0..self.rows)
            .map(|row| {
                let start = self.row_start(row) as i32;
                let line_base = if start >= 0x40 { 0x40 } else { 0 };
                (0..self.cols as i32)
                    .map(|col| {
                        let offset = (start - line_base + col + self.shift).rem_euclid(line_len);
                        let c = self.ddram[(line_base + offset) as usize];
                        if (0x20..0x7E).contains(&c) {
                            c as char
                        } else {
                            '?'
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

impl Device for Lcd {
    fn start(&mut self, _offset: u8, _read: bool) {}

    fn write(&mut self, byte: u8) -> bool {
        let before = self.pins;
        self.pins = byte;
        if before & E != 0 && byte & E == 0 {
            self.strobe(before);
        }
        true
    }

    fn read(&mut self) -> u8 {
        let mut pins = self.pins;
        if pins & RW != 0 && pins & E != 0 {
            let byte = self.read_byte(pins & RS != 0);
            let nibble = if self.read_nibble_high {
                byte >> 4
            } else {
                byte & 0xF
            };
            // Quasi-bidirectional pins: a pin written high reads what drives it.
            pins = (pins & 0x0F) | ((nibble << 4) & pins);
        }
        pins
    }

    fn stop(&mut self) {}

    fn dump(&self) -> Option<String> {
        let mut out = format!(
            "lcd {}x{} display={} backlight={}\n",
            self.cols,
            self.rows,
            if self.display_on { "on" } else { "off" },
            if self.pins & BACKLIGHT != 0 {
                "on"
            } else {
                "off"
            }
        );
        let border = format!("+{}+\n", "-".repeat(self.cols));
        out.push_str(&border);
        for line in self.screen() {
            out.push('|');
            out.push_str(&line);
            out.push_str("|\n");
        }
        out.push_str(&border);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one nibble the way backpack drivers do: E high with the data, then E low.
    fn nibble(lcd: &mut Lcd, n: u8, rs: bool) {
        let base = (n << 4) | BACKLIGHT | if rs { RS } else { 0 };
        lcd.write(base | E);
        lcd.write(base);
    }

    fn byte(lcd: &mut Lcd, b: u8, rs: bool) {
        nibble(lcd, b >> 4, rs);
        nibble(lcd, b & 0xF, rs);
    }

    fn init(lcd: &mut Lcd) {
        for n in [3, 3, 3, 2] {
            nibble(lcd, n, false);
        }
        for b in [0x28, 0x0C, 0x06, 0x01] {
            byte(lcd, b, false);
        }
    }

    #[test]
    fn four_bit_init_and_text() {
        let mut lcd = Lcd::new(16, 2);
        init(&mut lcd);
        for &c in b"hello" {
            byte(&mut lcd, c, true);
        }
        byte(&mut lcd, 0xC0 | 3, false); // row 1, column 3
        for &c in b"world" {
            byte(&mut lcd, c, true);
        }
        assert_eq!(lcd.screen(), vec!["hello           ", "   world        "]);
        let dump = lcd.dump().unwrap();
        assert!(
            dump.starts_with("lcd 16x2 display=on backlight=on\n"),
            "{dump}"
        );
        assert!(dump.contains("|hello           |"));
    }

    #[test]
    fn twenty_by_four_rows_and_home_and_clear() {
        let mut lcd = Lcd::new(20, 4);
        init(&mut lcd);
        byte(&mut lcd, 0x80 | 0x14, false); // row 2 starts at 0x14
        byte(&mut lcd, b'x', true);
        byte(&mut lcd, 0x80 | 0x54, false); // row 3 starts at 0x54
        byte(&mut lcd, b'y', true);
        byte(&mut lcd, 0x02, false); // home
        byte(&mut lcd, b'h', true);
        let s = lcd.screen();
        assert_eq!(&s[2][..1], "x");
        assert_eq!(&s[3][..1], "y");
        assert_eq!(&s[0][..1], "h");
        byte(&mut lcd, 0x01, false);
        assert!(lcd.screen().iter().all(|r| r.trim().is_empty()));
    }

    #[test]
    fn busy_flag_read_returns_the_address() {
        let mut lcd = Lcd::new(16, 2);
        init(&mut lcd);
        byte(&mut lcd, 0x85, false);
        lcd.write(0xF0 | RW | BACKLIGHT | E);
        assert_eq!(lcd.read() >> 4, 0x0, "busy clear, address high bits 000");
        lcd.write(0xF0 | RW | BACKLIGHT);
        lcd.write(0xF0 | RW | BACKLIGHT | E);
        assert_eq!(lcd.read() >> 4, 0x5);
        lcd.write(0xF0 | RW | BACKLIGHT);
        assert_eq!(
            lcd.read(),
            0xF0 | RW | BACKLIGHT,
            "pins read back when not driven"
        );
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(Lcd::parse_size("16x2"), Some((16, 2)));
        assert_eq!(Lcd::parse_size("20x4"), Some((20, 4)));
        assert_eq!(Lcd::parse_size("0x2"), None);
        assert_eq!(Lcd::parse_size("16"), None);
    }
}
