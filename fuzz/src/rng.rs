//! A small deterministic generator (xorshift64*), so a seed names one module and one set of
//! arguments on every machine and every run.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn word(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n.max(1)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.word() as u8).collect()
    }

    /// An integer of `bits` bits: mostly edge cases, sometimes anything.
    pub fn int(&mut self, bits: u32) -> u64 {
        let edges = [
            0u64,
            1,
            2,
            7,
            u64::MAX,
            1 << (bits - 1),
            (1 << (bits - 1)) - 1,
            0x8000,
        ];
        let v = match self.word() % 4 {
            0 | 1 => edges[self.below(edges.len() as u64) as usize],
            _ => self.word(),
        };
        if bits == 64 {
            v
        } else {
            v & ((1 << bits) - 1)
        }
    }

    /// The bits of an `f32`: small integers, halves, or any bit pattern (NaNs included).
    pub fn f32_bits(&mut self) -> u32 {
        match self.word() % 3 {
            0 => ((self.word() % 200) as f32).to_bits(),
            1 => self.word() as u32,
            _ => (-((self.word() % 50) as f32) * 0.5).to_bits(),
        }
    }

    pub fn f64_bits(&mut self) -> u64 {
        match self.word() % 3 {
            0 => ((self.word() % 200) as f64).to_bits(),
            1 => self.word(),
            _ => (-((self.word() % 50) as f64) * 0.25).to_bits(),
        }
    }
}
