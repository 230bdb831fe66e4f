//! `EnvKey` against a real environment. Kept in its own test binary with a
//! single test, because changing the environment while other threads may
//! read it is unsound.

use zhucan_crypto::{CryptoError, EnvKey, FieldCrypto, KeyProvider, MasterKey};

#[test]
fn env_key_reads_hex_and_reports_problems() {
    let var = "ZHUCAN_CRYPTO_TEST_ENV_KEY";
    let key = MasterKey::generate();
    let set = |value: &str| {
        // SAFETY: this is the only test in this binary, so no other thread
        // reads or writes the environment concurrently.
        unsafe { std::env::set_var(var, value) }
    };

    set(&format!("{}\n", key.to_hex().to_uppercase()));
    let loaded = EnvKey::new(var).master_key().unwrap();
    assert_eq!(loaded.to_hex(), key.to_hex());
    let blob = FieldCrypto::new(&key).encrypt_str(b"person.phone", "13800138000");
    assert_eq!(
        FieldCrypto::new(&loaded)
            .decrypt_string(b"person.phone", &blob)
            .unwrap(),
        "13800138000"
    );

    set("abc");
    let e = EnvKey::new(var).master_key().unwrap_err();
    assert!(matches!(e, CryptoError::KeyFormat(_)), "{e:?}");
    assert!(e.to_string().contains(var), "{e}");
    assert!(e.to_string().contains("expected 64 hex characters"), "{e}");

    set("  ");
    assert!(matches!(
        EnvKey::new(var).master_key(),
        Err(CryptoError::MissingEnv(v)) if v == var
    ));

    // SAFETY: as above.
    unsafe { std::env::remove_var(var) };
    let e = EnvKey::new(var).master_key().unwrap_err();
    assert!(matches!(&e, CryptoError::MissingEnv(v) if v == var));
    assert!(e.to_string().contains(var), "{e}");
}
