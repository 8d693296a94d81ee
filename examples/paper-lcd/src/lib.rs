//! `write(connection, delay, message)`: initialises an HD44780 character LCD behind a PCF8574
//! "I2C backpack" at 0x27 (P0=RS, P1=RW, P2=E, P3=backlight, P4..P7=D4..D7) in 4-bit mode and
//! writes `message`, as the 2024 WASI-I2C prototype's LCD guest did. The function has no
//! result, so a failed bus write traps.

wit_bindgen::generate!({
    path: ["../../wit/deps/i2c", "wit"],
    generate_all,
    world: "paper:lcd/lcd",
});


const ADDRESS: u16 = 0x27;
const RS: u8 = 0x01;
const E: u8 = 0x04;
const BACKLIGHT: u8 = 0x08;

struct Backpack<'a> {
    bus: &'a I2c,
    delay: &'a Delay,
}

impl Backpack<'_> {
    fn send(&self, pins: u8) {
        if let Err(e) = self.bus.write(ADDRESS, &[pins]) {
            panic!("lcd: write to {ADDRESS:#x} failed: {e:?}");
        }
    }

    /// One nibble on D4..D7, latched by a pulse on E (at least 450 ns high).
    fn nibble(&self, nibble: u8, rs: bool) {
        let pins = (nibble << 4) | BACKLIGHT | if rs { RS } else { 0 };
        self.send(pins | E);
        self.delay.delay_ns(1_000);
        self.send(pins);
        self.delay.delay_ns(50_000);
    }

    fn byte(&self, byte: u8, rs: bool) {
        self.nibble(byte >> 4, rs);
        self.nibble(byte & 0xF, rs);
    }

    /// The datasheet's initialisation by instruction (figure 24), into 4-bit, two-line mode.
    fn init(&self) {
        self.delay.delay_ns(50_000_000);
        for wait_us in [4500, 150, 150] {
            self.nibble(0x3, false);
            self.delay.delay_ns(wait_us * 1000);
        }
        self.nibble(0x2, false);
        for instruction in [0x28, 0x0C, 0x06, 0x01] {
            self.byte(instruction, false);
        }
        self.delay.delay_ns(2_000_000);
    }
}

struct Lcd;

impl Guest for Lcd {
    fn write(connection: I2c, delay: Delay, message: String) {
        let lcd = Backpack {
            bus: &connection,
            delay: &delay,
        };
        lcd.init();
        for b in message.bytes() {
            lcd.byte(b, true);
        }
    }
}

export!(Lcd);
