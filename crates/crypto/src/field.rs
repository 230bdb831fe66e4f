//! SM4-GCM field encryption and HMAC-SM3 blind indexes.

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sm3::Sm3;
use sm4::Sm4;
use zeroize::Zeroize;

use crate::{CryptoError, MasterKey};

/// SM4 in GCM mode with a 96-bit nonce and a 128-bit tag (the SM4-GCM of
/// RFC 8998 / GB/T 36624).
type Sm4Gcm = AesGcm<Sm4, U12>;
type HmacSm3 = Hmac<Sm3>;

/// First byte of every ciphertext produced by [`FieldCrypto::encrypt`].
pub const FORMAT_VERSION: u8 = 0x01;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

/// Ciphertext length minus plaintext length: version (1) + nonce (12) + tag (16).
pub const CIPHERTEXT_OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// Length of a blind index in bytes (full HMAC-SM3 output).
pub const BLIND_INDEX_LEN: usize = 32;

/// HMAC-SM3 labels deriving the sub-keys from the master key.
const ENC_KEY_LABEL: &[u8] = b"zhucan/enc/v1";
const INDEX_KEY_LABEL: &[u8] = b"zhucan/index/v1";
const AUDIT_KEY_LABEL: &[u8] = b"zhucan/audit/v1";
const CHECK_KEY_LABEL: &[u8] = b"zhucan/key-check/v1";
/// What the key check value authenticates: a fixed text, so the value names the key only.
const CHECK_MESSAGE: &[u8] = b"zhucan master key check";

/// Field-level encryption and blind indexing for sensitive columns.
///
/// * Encryption: SM4-GCM with a fresh random 96-bit nonce per value. Output:
///   `0x01 (version) || nonce (12) || ciphertext || tag (16)`, i.e.
///   [`CIPHERTEXT_OVERHEAD`] bytes longer than the plaintext. The caller's
///   field `label` (e.g. `b"person.resident_id"`) is the associated data, so
///   a ciphertext copied to another column does not decrypt.
/// * Blind index: `HMAC-SM3(index key, label || 0x00 || normalised value)`,
///   32 bytes, deterministic, for equality look-ups (`WHERE resident_id_idx = ?`).
///
/// The two keys are derived from the [`MasterKey`] with HMAC-SM3 under the
/// labels `"zhucan/enc/v1"` (first 16 bytes → SM4 key) and `"zhucan/index/v1"`
/// (32 bytes → HMAC key). The cipher and the keyed HMAC state are built once
/// in [`FieldCrypto::new`]; cloning is an `Arc` increment, and the value is
/// `Send + Sync` for use from many threads.
///
/// Labels are code constants; they must not contain a `0x00` byte.
#[derive(Clone)]
pub struct FieldCrypto {
    inner: Arc<Inner>,
}

struct Inner {
    aead: Sm4Gcm,
    /// HMAC-SM3 already keyed with the index key; cloned for each index.
    index_mac: HmacSm3,
    /// HMAC-SM3 keyed for the audit chain.
    audit_mac: HmacSm3,
    /// See [`FieldCrypto::key_check`].
    key_check: String,
}

impl FieldCrypto {
    /// Derives the sub-keys from `key` and builds the cipher and HMAC state.
    pub fn new(key: &MasterKey) -> FieldCrypto {
        let mut enc_key = derive_subkey(key, ENC_KEY_LABEL);
        let mut index_key = derive_subkey(key, INDEX_KEY_LABEL);
        let mut audit_key = derive_subkey(key, AUDIT_KEY_LABEL);
        let aead = Sm4Gcm::new_from_slice(&enc_key[..16]).expect("SM4 takes a 16-byte key");
        let index_mac =
            HmacSm3::new_from_slice(&index_key).expect("HMAC takes a key of any length");
        let audit_mac =
            HmacSm3::new_from_slice(&audit_key).expect("HMAC takes a key of any length");
        let mut check_key = derive_subkey(key, CHECK_KEY_LABEL);
        let mut check_mac =
            HmacSm3::new_from_slice(&check_key).expect("HMAC takes a key of any length");
        check_mac.update(CHECK_MESSAGE);
        let key_check = crate::hex::encode(&check_mac.finalize().into_bytes());
        check_key.zeroize();
        enc_key.zeroize();
        index_key.zeroize();
        audit_key.zeroize();
        FieldCrypto {
            inner: Arc::new(Inner {
                aead,
                index_mac,
                audit_mac,
                key_check,
            }),
        }
    }

    /// Encrypts `plaintext` for the field `label`.
    ///
    /// # Panics
    /// Only if `plaintext` exceeds GCM's limit of 64 GiB.
    pub fn encrypt(&self, label: &[u8], plaintext: &[u8]) -> Vec<u8> {
        debug_assert!(!label.contains(&0), "field labels must not contain NUL");
        let mut out = Vec::with_capacity(plaintext.len() + CIPHERTEXT_OVERHEAD);
        let mut nonce = Array::<u8, U12>::default();
        // ThreadRng: ChaCha12 CSPRNG per thread, seeded and periodically
        // reseeded from the OS; no syscall or lock per value.
        rand::rng().fill_bytes(&mut nonce);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .inner
            .aead
            .encrypt_inout_detached(&nonce, label, (&mut out[HEADER_LEN..]).into())
            .expect("plaintext within the GCM length limit");
        out.extend_from_slice(&tag);
        out
    }

    /// Decrypts a value produced by [`encrypt`](Self::encrypt) for the same
    /// `label` under the same master key.
    ///
    /// Any other key or label, an unknown version byte, truncation or any
    /// altered byte gives [`CryptoError::Decrypt`].
    pub fn decrypt(&self, label: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if blob.len() < CIPHERTEXT_OVERHEAD || blob[0] != FORMAT_VERSION {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, rest) = blob[1..].split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = Array::<u8, U12>::try_from(nonce).map_err(|_| CryptoError::Decrypt)?;
        let tag = Array::<u8, U16>::try_from(tag).map_err(|_| CryptoError::Decrypt)?;
        let mut out = ciphertext.to_vec();
        self.inner
            .aead
            .decrypt_inout_detached(&nonce, label, out.as_mut_slice().into(), &tag)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(out)
    }

    /// [`encrypt`](Self::encrypt) of the UTF-8 bytes of `s`.
    pub fn encrypt_str(&self, label: &[u8], s: &str) -> Vec<u8> {
        self.encrypt(label, s.as_bytes())
    }

    /// [`decrypt`](Self::decrypt) to a `String`; a plaintext that is not
    /// UTF-8 is also [`CryptoError::Decrypt`].
    pub fn decrypt_string(&self, label: &[u8], blob: &[u8]) -> Result<String, CryptoError> {
        let bytes = self.decrypt(label, blob)?;
        String::from_utf8(bytes).map_err(|e| {
            e.into_bytes().zeroize();
            CryptoError::Decrypt
        })
    }

    /// Blind index of `value` for the field `label`: 32 bytes of
    /// `HMAC-SM3(index key, label || 0x00 || normalised value)`, the same for
    /// the same key, label and normalised value. Store it as a BLOB.
    ///
    /// Normalisation (meant for identifiers such as resident ID and phone
    /// numbers, and idempotent): all whitespace is removed (including U+3000
    /// ideographic space), full-width ASCII forms U+FF01–U+FF5E become their
    /// ASCII counterparts (`１２３ｘ` → `123x`), and ASCII letters are
    /// upper-cased (ID check digit `x` → `X`). Anything else — `+86`
    /// prefixes, hyphens — is the caller's domain validation to settle, and
    /// must be done identically when writing and when searching.
    pub fn blind_index(&self, label: &[u8], value: &str) -> Vec<u8> {
        debug_assert!(!label.contains(&0), "field labels must not contain NUL");
        let mut mac = self.inner.index_mac.clone();
        mac.update(label);
        mac.update(&[0x00]);
        feed_normalised(&mut mac, value);
        mac.finalize().into_bytes().to_vec()
    }
}

impl FieldCrypto {
    /// The key check value: lowercase hex of HMAC-SM3 of a fixed text under a key derived from
    /// the master key. A database stores it to recognise the key it belongs to; it cannot be
    /// turned back into the key or any sub-key.
    pub fn key_check(&self) -> &str {
        &self.inner.key_check
    }

    /// The next link of the audit chain: lowercase hex of HMAC-SM3(audit key, prev || 0x1e ||
    /// record). Keyed, so someone who can write to the database but lacks the master key cannot
    /// rewrite a record and recompute the links after it.
    pub fn chain_mac(&self, prev_hex: &str, record: &[u8]) -> String {
        let mut mac = self.inner.audit_mac.clone();
        mac.update(prev_hex.as_bytes());
        mac.update(&[0x1e]);
        mac.update(record);
        crate::hex::encode(&mac.finalize().into_bytes())
    }
}

impl fmt::Debug for FieldCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldCrypto(..)")
    }
}

/// `HMAC-SM3(master key, label)`.
fn derive_subkey(key: &MasterKey, label: &[u8]) -> [u8; 32] {
    let mut mac = HmacSm3::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// Feeds the normalised form of `value` to `mac` without allocating.
fn feed_normalised(mac: &mut HmacSm3, value: &str) {
    // Fast path: printable ASCII without lower-case letters is already normal.
    if value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b.is_ascii_lowercase())
    {
        mac.update(value.as_bytes());
        return;
    }
    let mut buf = [0u8; 64];
    let mut len = 0;
    for c in value.chars() {
        if c.is_whitespace() {
            continue;
        }
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        }
        .to_ascii_uppercase();
        if len + 4 > buf.len() {
            mac.update(&buf[..len]);
            len = 0;
        }
        len += c.encode_utf8(&mut buf[len..]).len();
    }
    mac.update(&buf[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::array::Array;
    use sm4::cipher::BlockCipherEncrypt;
    use std::collections::HashSet;

    const ID: &[u8] = b"person.resident_id";
    const PHONE: &[u8] = b"person.phone";

    fn unhex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2));
        s.as_bytes()
            .chunks(2)
            .map(|p| (crate::hex::digit(p[0]).unwrap() << 4) | crate::hex::digit(p[1]).unwrap())
            .collect()
    }

    fn fixed_key() -> MasterKey {
        MasterKey::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap()
    }

    #[test]
    fn key_check_names_the_key_and_not_its_bytes() {
        let a = FieldCrypto::new(&fixed_key());
        assert_eq!(a.key_check(), FieldCrypto::new(&fixed_key()).key_check());
        assert_eq!(a.key_check().len(), 64);
        assert_ne!(
            a.key_check(),
            FieldCrypto::new(&MasterKey::generate()).key_check()
        );
        assert!(!a.key_check().contains(&fixed_key().to_hex()[..16]));
    }

    /// GB/T 32907-2016 Appendix A, example 1: one SM4 block.
    #[test]
    fn sm4_known_answer() {
        let key = unhex("0123456789abcdeffedcba9876543210");
        let cipher = Sm4::new_from_slice(&key).unwrap();
        let mut block = Array::<u8, U16>::try_from(key.as_slice()).unwrap();
        cipher.encrypt_block(&mut block);
        assert_eq!(
            crate::hex::encode(&block),
            "681edf34d206965e86b3e94f536e4246"
        );
    }

    /// RFC 8998 Appendix A.1: SM4-GCM, proving the GCM composition over SM4
    /// matches other implementations (GmSSL, OpenSSL, Bouncy Castle).
    #[test]
    fn sm4_gcm_known_answer_rfc8998() {
        let key = unhex("0123456789ABCDEFFEDCBA9876543210");
        let nonce = unhex("00001234567800000000ABCD");
        let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let plaintext = unhex(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let aead = Sm4Gcm::new_from_slice(&key).unwrap();
        let nonce = Array::<u8, U12>::try_from(nonce.as_slice()).unwrap();
        let mut buf = plaintext.clone();
        let tag = aead
            .encrypt_inout_detached(&nonce, &aad, buf.as_mut_slice().into())
            .unwrap();
        assert_eq!(
            crate::hex::encode(&buf),
            "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735\
             d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
        );
        assert_eq!(crate::hex::encode(&tag), "83de3541e4c2b58177e065a9bf7b62ec");
        aead.decrypt_inout_detached(&nonce, &aad, buf.as_mut_slice().into(), &tag)
            .unwrap();
        assert_eq!(buf, plaintext);
    }

    /// `Hmac<Sm3>` is textbook HMAC (RFC 2104) over SM3 with 64-byte blocks.
    #[test]
    fn hmac_sm3_matches_rfc2104_construction() {
        use sm3::Digest;
        let key = [0x0bu8; 20];
        let msg = b"Hi There";
        let mut k0 = [0u8; 64];
        k0[..20].copy_from_slice(&key);
        let ipad: Vec<u8> = k0.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k0.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sm3::new().chain_update(&ipad).chain_update(msg).finalize();
        let expected = Sm3::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        let mut mac = HmacSm3::new_from_slice(&key).unwrap();
        mac.update(msg);
        assert_eq!(mac.finalize().into_bytes(), expected);
    }

    #[test]
    fn subkeys_are_hmac_sm3_of_the_labels() {
        let key = fixed_key();
        let enc = derive_subkey(&key, b"zhucan/enc/v1");
        let idx = derive_subkey(&key, b"zhucan/index/v1");
        assert_ne!(enc, idx);
        // The blind index is keyed with the full index sub-key.
        let fc = FieldCrypto::new(&key);
        let mut mac = HmacSm3::new_from_slice(&idx).unwrap();
        mac.update(b"person.phone\x0013800138000");
        assert_eq!(
            fc.blind_index(PHONE, "13800138000"),
            mac.finalize().into_bytes().to_vec()
        );
        // Encryption uses the first 16 bytes of the encryption sub-key.
        let blob = fc.encrypt(ID, b"x");
        let aead = Sm4Gcm::new_from_slice(&enc[..16]).unwrap();
        let nonce = Array::<u8, U12>::try_from(&blob[1..13]).unwrap();
        let tag = Array::<u8, U16>::try_from(&blob[14..]).unwrap();
        let mut ct = blob[13..14].to_vec();
        aead.decrypt_inout_detached(&nonce, ID, ct.as_mut_slice().into(), &tag)
            .unwrap();
        assert_eq!(ct, b"x");
    }

    /// Pins the on-disk formats: data written by this version must stay
    /// readable and searchable by every later one.
    #[test]
    fn stored_formats_are_stable() {
        let fc = FieldCrypto::new(&fixed_key());
        assert_eq!(
            crate::hex::encode(&fc.blind_index(ID, "11010519491231002X")),
            PINNED_INDEX
        );
        assert_eq!(
            fc.decrypt_string(ID, &unhex(PINNED_BLOB)).unwrap(),
            "11010519491231002X"
        );
    }

    const PINNED_INDEX: &str = "8f8b7918abd2ca46f3e3c3a61e464a8ccb34dbe12d181aea3cafb6a3ff3cfd8c";
    const PINNED_BLOB: &str = "011e359ccd09b94257ace2d36008b79e5be39baa16ed764477603f15f3e38798988bbed69749928987201c97abc1d9";

    #[test]
    fn round_trip() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        for s in [
            "",
            "11010519491231002X",
            "13800138000",
            "张三 住址：北京市东城区",
            &"长".repeat(1000),
        ] {
            let blob = fc.encrypt_str(ID, s);
            assert_eq!(blob.len(), s.len() + CIPHERTEXT_OVERHEAD);
            assert_eq!(blob[0], FORMAT_VERSION);
            assert_eq!(fc.decrypt_string(ID, &blob).unwrap(), s);
            assert_eq!(fc.decrypt(ID, &blob).unwrap(), s.as_bytes());
        }
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(
            fc.decrypt(PHONE, &fc.encrypt(PHONE, &bytes)).unwrap(),
            bytes
        );
    }

    #[test]
    fn ciphertext_hides_plaintext() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        let blob = fc.encrypt_str(ID, "11010519491231002X");
        assert!(!blob.windows(6).any(|w| w == b"110105"));
    }

    #[test]
    fn any_tampering_is_detected() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        let blob = fc.encrypt_str(ID, "11010519491231002X");
        for i in 0..blob.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = blob.clone();
                t[i] ^= bit;
                assert!(
                    matches!(fc.decrypt(ID, &t), Err(CryptoError::Decrypt)),
                    "flip at byte {i} not detected"
                );
            }
        }
        for n in 0..blob.len() {
            assert!(matches!(
                fc.decrypt(ID, &blob[..n]),
                Err(CryptoError::Decrypt)
            ));
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert!(matches!(fc.decrypt(ID, &longer), Err(CryptoError::Decrypt)));
        assert!(matches!(fc.decrypt(ID, &[]), Err(CryptoError::Decrypt)));
    }

    #[test]
    fn wrong_label_or_key_fails() {
        let key = MasterKey::generate();
        let fc = FieldCrypto::new(&key);
        let blob = fc.encrypt_str(ID, "11010519491231002X");
        assert!(matches!(
            fc.decrypt(PHONE, &blob),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(fc.decrypt(b"", &blob), Err(CryptoError::Decrypt)));
        assert!(matches!(
            fc.decrypt(b"person.resident_iD", &blob),
            Err(CryptoError::Decrypt)
        ));
        let other = FieldCrypto::new(&MasterKey::generate());
        assert!(matches!(
            other.decrypt(ID, &blob),
            Err(CryptoError::Decrypt)
        ));
        // Same key bytes, separately constructed: works.
        let same = FieldCrypto::new(&MasterKey::from_hex(&key.to_hex()).unwrap());
        assert_eq!(
            same.decrypt_string(ID, &blob).unwrap(),
            "11010519491231002X"
        );
    }

    #[test]
    fn non_utf8_plaintext_is_a_decrypt_error_for_strings() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        let blob = fc.encrypt(ID, &[0xff, 0xfe]);
        assert!(matches!(
            fc.decrypt_string(ID, &blob),
            Err(CryptoError::Decrypt)
        ));
        assert_eq!(fc.decrypt(ID, &blob).unwrap(), [0xff, 0xfe]);
    }

    #[test]
    fn nonces_are_unique() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        let n = 20_000;
        let mut nonces = HashSet::with_capacity(n);
        let mut blobs = HashSet::with_capacity(n);
        for _ in 0..n {
            let blob = fc.encrypt_str(PHONE, "13800138000");
            assert!(
                nonces.insert(blob[1..HEADER_LEN].to_vec()),
                "nonce repeated"
            );
            assert!(blobs.insert(blob));
        }
    }

    #[test]
    fn blind_index_is_deterministic_and_separated() {
        let key = MasterKey::generate();
        let fc = FieldCrypto::new(&key);
        let a = fc.blind_index(ID, "11010519491231002X");
        assert_eq!(a.len(), BLIND_INDEX_LEN);
        assert_eq!(a, fc.blind_index(ID, "11010519491231002X"));
        assert_eq!(a, fc.clone().blind_index(ID, "11010519491231002X"));
        assert_eq!(
            a,
            FieldCrypto::new(&MasterKey::from_hex(&key.to_hex()).unwrap())
                .blind_index(ID, "11010519491231002X")
        );
        // Different value, label or key: different index.
        assert_ne!(a, fc.blind_index(ID, "110105194912310021"));
        assert_ne!(a, fc.blind_index(PHONE, "11010519491231002X"));
        assert_ne!(
            a,
            FieldCrypto::new(&MasterKey::generate()).blind_index(ID, "11010519491231002X")
        );
        // label || 0x00 || value: no shifting bytes between label and value.
        assert_ne!(fc.blind_index(b"ab", "C"), fc.blind_index(b"a", "BC"));
    }

    #[test]
    fn blind_index_normalises() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        let canonical = fc.blind_index(ID, "11010519491231002X");
        for variant in [
            "11010519491231002x",
            " 11010519491231002X\n",
            "110105 19491231 002x",
            "１１０１０５１９４９１２３１００２Ｘ",
            "\u{3000}１１０１０５１９４９１２３１００２ｘ\u{3000}",
        ] {
            assert_eq!(fc.blind_index(ID, variant), canonical, "{variant:?}");
        }
        // Non-ASCII text is kept (names, addresses), longer than the buffer.
        let long = "张三".repeat(50);
        assert_eq!(
            fc.blind_index(PHONE, &long),
            fc.blind_index(PHONE, &format!(" {long} "))
        );
        assert_ne!(fc.blind_index(PHONE, "张三"), fc.blind_index(PHONE, "张四"));
        assert_ne!(
            fc.blind_index(PHONE, "138-0013-8000"),
            fc.blind_index(PHONE, "13800138000")
        );
    }

    #[test]
    fn is_send_sync_clone_and_debug_hides_keys() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<FieldCrypto>();
        let fc = FieldCrypto::new(&fixed_key());
        assert_eq!(format!("{fc:?}"), "FieldCrypto(..)");
    }

    #[test]
    fn works_across_threads() {
        let fc = FieldCrypto::new(&MasterKey::generate());
        let blobs: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let fc = fc.clone();
                    s.spawn(move || fc.encrypt_str(ID, &format!("value-{t}")))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (t, blob) in blobs.iter().enumerate() {
            assert_eq!(fc.decrypt_string(ID, blob).unwrap(), format!("value-{t}"));
        }
    }
}
