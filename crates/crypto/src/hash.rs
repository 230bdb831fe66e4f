//! SM3 hashing for the append-only audit log.

use sm3::{Digest, Sm3};

/// Separator between the previous hash and the record in [`chain_hash`]
/// (ASCII record separator).
const CHAIN_SEPARATOR: u8 = 0x1e;

/// Lowercase hex of the SM3 digest of `data` (64 characters).
pub fn sm3_hex(data: &[u8]) -> String {
    crate::hex::encode(&Sm3::digest(data))
}

/// Next link of the audit hash chain: `sm3_hex(prev_hash_hex || 0x1e || record)`.
///
/// `prev_hash_hex` is hashed as the text it is (for the first record, use
/// whatever genesis value the log defines, e.g. 64 zeros).
pub fn chain_hash(prev_hash_hex: &str, record: &[u8]) -> String {
    let digest = Sm3::new()
        .chain_update(prev_hash_hex.as_bytes())
        .chain_update([CHAIN_SEPARATOR])
        .chain_update(record)
        .finalize();
    crate::hex::encode(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB/T 32905-2016 Appendix A, example 1.
    #[test]
    fn sm3_known_answer_abc() {
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    /// GB/T 32905-2016 Appendix A, example 2 ("abcd" x 16, 512 bits).
    #[test]
    fn sm3_known_answer_512_bit_message() {
        assert_eq!(
            sm3_hex("abcd".repeat(16).as_bytes()),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn chain_hash_is_sm3_of_prev_sep_record() {
        let prev = sm3_hex(b"genesis");
        let mut joined = prev.as_bytes().to_vec();
        joined.push(0x1e);
        joined.extend_from_slice(b"{\"event\":\"login\"}");
        assert_eq!(
            chain_hash(&prev, b"{\"event\":\"login\"}"),
            sm3_hex(&joined)
        );
    }

    #[test]
    fn chain_hash_depends_on_prev_and_record() {
        let a = chain_hash(&"0".repeat(64), b"r1");
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, chain_hash(&"0".repeat(64), b"r2"));
        assert_ne!(a, chain_hash(&"1".repeat(64), b"r1"));
        // The separator keeps the split point unambiguous.
        assert_ne!(chain_hash("ab", b"c"), chain_hash("a", b"bc"));
    }
}
