//! National-cryptography primitives for zhucan.
//!
//! zhucan keeps PIPL sensitive personal information (resident ID numbers,
//! phone numbers) encrypted at rest with the Chinese commercial cryptography
//! suite:
//!
//! * [`FieldCrypto`] — SM4-GCM field encryption (random 96-bit nonce per value,
//!   the column label as associated data) and HMAC-SM3 blind indexes for
//!   equality look-ups on encrypted columns;
//! * [`MasterKey`], [`KeyFile`], [`EnvKey`], [`KeyProvider`] — the 32-byte
//!   master key and where it comes from;
//! * [`sm3_hex`], [`chain_hash`] — SM3 hash chain of the append-only audit log;
//! * [`random_token`], [`random_digits`], [`constant_time_eq`] — one-time codes
//!   and session tokens.
//!
//! Primitives: `sm4` (GB/T 32907), `sm3` (GB/T 32905), `aes-gcm`'s generic GCM
//! over SM4 (as in RFC 8998) and `hmac`, all from RustCrypto.
//!
//! ```
//! use zhucan_crypto::{FieldCrypto, MasterKey};
//!
//! let key = MasterKey::generate(); // in production: KeyFile / EnvKey
//! let fc = FieldCrypto::new(&key);
//! let blob = fc.encrypt_str(b"person.resident_id", "11010519491231002X");
//! let index = fc.blind_index(b"person.resident_id", "11010519491231002X");
//! assert_eq!(
//!     fc.decrypt_string(b"person.resident_id", &blob).unwrap(),
//!     "11010519491231002X"
//! );
//! assert!(fc.decrypt(b"person.phone", &blob).is_err()); // other column
//! assert_eq!(index, fc.blind_index(b"person.resident_id", "11010519491231002x"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod field;
mod hash;
mod hex;
mod key;
mod random;

pub use error::CryptoError;
pub use field::{BLIND_INDEX_LEN, CIPHERTEXT_OVERHEAD, FORMAT_VERSION, FieldCrypto};
pub use hash::{chain_hash, sm3_hex};
pub use key::{DEFAULT_KEY_ENV_VAR, EnvKey, KeyFile, KeyProvider, MASTER_KEY_LEN, MasterKey};
pub use random::{constant_time_eq, random_digits, random_token};
