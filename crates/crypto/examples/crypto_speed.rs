//! Micro-benchmark of the per-row hot path of a bulk import.
//!
//! `cargo run --release -p zhucan-crypto --example crypto_speed [iterations]`

use std::hint::black_box;
use std::time::Instant;

use zhucan_crypto::{FieldCrypto, MasterKey, chain_hash};

const PREV: &str = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";

fn measure(name: &str, iterations: u32, mut f: impl FnMut(u32)) {
    // Warm up caches and the thread-local RNG.
    for i in 0..iterations / 10 {
        f(i);
    }
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{name:<42} {ns:>9.1} ns/op");
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let fc = FieldCrypto::new(&MasterKey::generate());
    let id = "11010519491231002X";
    let phone = "13800138000";
    let id_blob = fc.encrypt_str(b"person.resident_id", id);

    println!("{iterations} iterations each, one thread");
    measure("FieldCrypto::new", iterations / 100, |_| {
        black_box(FieldCrypto::new(black_box(&MasterKey::from_bytes([7; 32]))));
    });
    measure("encrypt_str (18-byte resident ID)", iterations, |_| {
        black_box(fc.encrypt_str(b"person.resident_id", black_box(id)));
    });
    measure("encrypt_str (11-byte phone)", iterations, |_| {
        black_box(fc.encrypt_str(b"person.phone", black_box(phone)));
    });
    measure("decrypt_string (resident ID)", iterations, |_| {
        black_box(
            fc.decrypt_string(b"person.resident_id", black_box(&id_blob))
                .unwrap(),
        );
    });
    measure("blind_index (resident ID)", iterations, |_| {
        black_box(fc.blind_index(b"person.resident_id", black_box(id)));
    });
    measure("blind_index (phone)", iterations, |_| {
        black_box(fc.blind_index(b"person.phone", black_box(phone)));
    });
    measure("blind_index (full-width, slow path)", iterations, |_| {
        black_box(fc.blind_index(
            b"person.resident_id",
            black_box("１１０１０５１９４９１２３１００２ｘ"),
        ));
    });
    measure("chain_hash (200-byte record)", iterations, |_| {
        black_box(chain_hash(black_box(PREV), black_box(&[b'x'; 200])));
    });
    let row = Instant::now();
    for _ in 0..iterations {
        black_box(fc.encrypt_str(b"person.resident_id", black_box(id)));
        black_box(fc.encrypt_str(b"person.phone", black_box(phone)));
        black_box(fc.blind_index(b"person.resident_id", black_box(id)));
        black_box(fc.blind_index(b"person.phone", black_box(phone)));
    }
    let per_row = row.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!(
        "{:<42} {per_row:>9.1} ns/op  (~{:.2} s per 1,000,000 rows on one core)",
        "row = 2 x encrypt_str + 2 x blind_index",
        per_row / 1e3
    );
}
