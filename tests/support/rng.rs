//! xorshift64*: small, seeded, reproducible; the generated-state tests' source of choices.

pub struct Rng(pub u64);

/// The seed of a generated-state test: `VAR=N` replays run N, `VAR=random` takes a new one from
/// the clock, and otherwise the test's fixed default, so that a red CI run is the change's doing,
/// not the seed's. The caller prints it.
#[allow(dead_code)]
pub fn seed_from_env(var: &str, default: u64) -> u64 {
    match std::env::var(var).ok().as_deref().map(str::trim) {
        None | Some("") => default,
        Some("random") => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(default)
                | 1
        }
        Some(n) => n
            .parse()
            .unwrap_or_else(|_| panic!("{var}={n}: a seed is a number, or 'random'")),
    }
}

// Each test binary that includes this uses part of it.
#[allow(dead_code)]
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
