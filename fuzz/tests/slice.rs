//! The short, seeded slice of the fuzz targets that `make test` runs without libFuzzer:
//! every seed of `corpus/<target>/` (and of `artifacts/<target>/`, where libFuzzer keeps
//! the inputs that once failed), then `FRAMEPIPE_FUZZ_SLICE` (default 2,000) mutations of
//! them per target from a fixed seed: byte flips, inserts, deletions, truncation, splices.

use std::path::Path;

type Target = fn(&[u8]);

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        out.extend(paths.iter().map(|p| std::fs::read(p).expect("a readable seed")));
    }
    assert!(!out.is_empty(), "no seeds for {target} in fuzz/corpus/{target}");
    out
}

/// xorshift64*: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(data.len() + 1);
                data.insert(i, rng.next() as u8);
            }
            2 if !data.is_empty() => {
                data.remove(rng.below(data.len()));
            }
            3 => data.truncate(rng.below(data.len() + 1)),
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(other.len() + 1);
                let at = rng.below(data.len() + 1);
                data.splice(at.., other[cut..].iter().copied());
            }
            _ if !data.is_empty() => {
                // Interesting values: 0, 0xff, 0x7f, 0x80.
                let i = rng.below(data.len());
                data[i] = [0, 0xff, 0x7f, 0x80][rng.below(4)];
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data
}

fn run(name: &str, target: Target) {
    let seeds = seeds(name);
    for s in &seeds {
        target(s);
    }
    let n: usize = std::env::var("FRAMEPIPE_FUZZ_SLICE").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    for _ in 0..n {
        let input = mutate(&mut rng, &seeds);
        let r = std::panic::catch_unwind(|| target(&input));
        assert!(r.is_ok(), "{name} failed on input {input:?}");
    }
}

#[test]
fn h264_nal() {
    run("h264_nal", framepipe_fuzz::h264_nal);
}

#[test]
fn caps_layout() {
    run("caps_layout", framepipe_fuzz::caps_layout);
}

#[test]
fn metadata() {
    run("metadata", framepipe_fuzz::metadata);
}

#[test]
fn filter_string() {
    run("filter_string", framepipe_fuzz::filter_string);
}
