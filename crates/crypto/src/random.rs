//! One-time codes, tokens and constant-time comparison.

use rand::TryRngCore;
use rand::rngs::OsRng;

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// If the OS random source fails, which on supported platforms does not
/// happen once the system is booted; there is no safe fallback.
pub(crate) fn os_fill(buf: &mut [u8]) {
    OsRng
        .try_fill_bytes(buf)
        .expect("the operating system's random number generator failed");
}

/// `bytes` random bytes from the OS, as lowercase hex (`2 * bytes` characters).
///
/// Use at least 16 bytes (128 bits) for session or reset tokens; 32 is a good
/// default.
pub fn random_token(bytes: usize) -> String {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    os_fill(&mut buf);
    crate::hex::encode(&buf)
}

/// `n` uniformly random decimal digits from the OS, e.g. a 6-digit SMS code.
///
/// Leading zeros are kept ("004217"). Uniform: random bytes of 250 or more
/// are rejected, so `byte % 10` has no modulo bias.
pub fn random_digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 32];
    while out.len() < n {
        os_fill(&mut buf);
        for &b in &buf {
            if out.len() == n {
                break;
            }
            if b < 250 {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    zeroize::Zeroize::zeroize(&mut buf);
    out
}

/// Compares two byte strings in time independent of their contents (the
/// length is not secret: different lengths return `false` at once).
///
/// Use it for one-time codes, tokens and MACs instead of `==`.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keep the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn token_is_hex_of_requested_length() {
        let t = random_token(32);
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(random_token(0), "");
        let set: HashSet<String> = (0..100).map(|_| random_token(16)).collect();
        assert_eq!(set.len(), 100);
    }

    #[test]
    fn digits_have_requested_length() {
        for n in [0, 1, 6, 8, 100] {
            let d = random_digits(n);
            assert_eq!(d.len(), n);
            assert!(d.bytes().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn digits_are_roughly_uniform() {
        let mut counts = [0u32; 10];
        let s = random_digits(100_000);
        for c in s.bytes() {
            counts[usize::from(c - b'0')] += 1;
        }
        // Expected 10,000 each; sd ~95, so +-600 is > 6 sigma.
        for (d, &c) in counts.iter().enumerate() {
            assert!(
                (9_400..=10_600).contains(&c),
                "digit {d} appeared {c} times"
            );
        }
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"123456", b"123456"));
        assert!(!constant_time_eq(b"123456", b"123457"));
        assert!(!constant_time_eq(b"123456", b"12345"));
        assert!(!constant_time_eq(b"a", b""));
    }
}
