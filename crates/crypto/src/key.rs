//! The master key and where it comes from.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CryptoError;

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// Environment variable read by [`EnvKey::default`].
pub const DEFAULT_KEY_ENV_VAR: &str = "ZHUCAN_MASTER_KEY";

/// Largest key file accepted (64 hex characters, a line break and some slack).
const MAX_KEY_FILE_LEN: u64 = 256;

/// 32 bytes of key material from which [`FieldCrypto`](crate::FieldCrypto)
/// derives its SM4-GCM encryption key and its HMAC-SM3 blind-index key.
///
/// Its `Debug` output never shows the bytes, and the bytes are zeroed when the
/// value is dropped.
#[derive(Clone)]
pub struct MasterKey([u8; MASTER_KEY_LEN]);

impl MasterKey {
    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> MasterKey {
        let mut key = MasterKey([0; MASTER_KEY_LEN]);
        crate::random::os_fill(&mut key.0);
        key
    }

    /// The key with these bytes.
    pub fn from_bytes(b: [u8; MASTER_KEY_LEN]) -> MasterKey {
        MasterKey(b)
    }

    /// Parses 64 hex characters (either case; surrounding whitespace such as a
    /// trailing newline is ignored).
    ///
    /// The error says what is wrong without echoing the text.
    pub fn from_hex(s: &str) -> Result<MasterKey, CryptoError> {
        let s = s.trim_ascii();
        if s.len() != 2 * MASTER_KEY_LEN && s.is_ascii() {
            return Err(CryptoError::KeyFormat(format!(
                "expected {} hex characters (a {}-byte key), found {} characters",
                2 * MASTER_KEY_LEN,
                MASTER_KEY_LEN,
                s.len()
            )));
        }
        if !s.is_ascii() {
            return Err(CryptoError::KeyFormat(format!(
                "expected {} hex characters (0-9, a-f), found a non-ASCII character",
                2 * MASTER_KEY_LEN
            )));
        }
        let mut key = MasterKey([0; MASTER_KEY_LEN]);
        for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
            match (crate::hex::digit(pair[0]), crate::hex::digit(pair[1])) {
                (Some(hi), Some(lo)) => key.0[i] = (hi << 4) | lo,
                (hi, _) => {
                    let position = 2 * i + if hi.is_none() { 1 } else { 2 };
                    return Err(CryptoError::KeyFormat(format!(
                        "expected {} hex characters (0-9, a-f), found a non-hex character at position {position}",
                        2 * MASTER_KEY_LEN
                    )));
                }
            }
        }
        Ok(key)
    }

    /// The key as 64 lowercase hex characters (what a key file holds).
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(**)")
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for MasterKey {}

/// A source of the master key.
pub trait KeyProvider: Send + Sync {
    /// The master key.
    fn master_key(&self) -> Result<MasterKey, CryptoError>;
}

/// A fixed key (tests, or a key obtained elsewhere).
impl KeyProvider for MasterKey {
    fn master_key(&self) -> Result<MasterKey, CryptoError> {
        Ok(self.clone())
    }
}

impl<P: KeyProvider + ?Sized> KeyProvider for Arc<P> {
    fn master_key(&self) -> Result<MasterKey, CryptoError> {
        (**self).master_key()
    }
}

impl<P: KeyProvider + ?Sized> KeyProvider for Box<P> {
    fn master_key(&self) -> Result<MasterKey, CryptoError> {
        (**self).master_key()
    }
}

/// The master key in a file holding 64 hex characters and a newline.
///
/// On Unix the file must not be accessible to group or others (mode 0600 or
/// 0400); [`KeyFile::load_or_create`] creates it that way.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// The key file at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KeyFile { path: path.into() }
    }

    /// Where the key file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the key, or creates the file with a new random key when it is
    /// absent: mode 0600, created exclusively (an existing file is never
    /// overwritten), missing parent directories created with mode 0700.
    ///
    /// An existing file is checked exactly as by [`KeyProvider::master_key`].
    /// Back the file up: data encrypted under a lost key cannot be recovered.
    pub fn load_or_create(&self) -> Result<MasterKey, CryptoError> {
        if let Some(key) = self.load()? {
            return Ok(key);
        }
        self.create()
    }

    fn error(&self, reason: impl Into<String>) -> CryptoError {
        CryptoError::KeyFile {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// The key, or `None` when the file does not exist.
    pub fn load(&self) -> Result<Option<MasterKey>, CryptoError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("cannot open: {e}"))),
        };
        // Check the opened file itself, not the path again.
        let meta = file
            .metadata()
            .map_err(|e| self.error(format!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(self.error("not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(CryptoError::KeyPermissions {
                    path: self.path.clone(),
                });
            }
        }
        let mut text = Zeroizing::new(String::with_capacity(2 * MASTER_KEY_LEN + 2));
        file.take(MAX_KEY_FILE_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| self.error(format!("cannot read: {e}")))?;
        if text.len() as u64 > MAX_KEY_FILE_LEN {
            return Err(self.error("too large to be a key file (expected 64 hex characters)"));
        }
        match MasterKey::from_hex(&text) {
            Ok(key) => Ok(Some(key)),
            Err(CryptoError::KeyFormat(reason)) => Err(self.error(reason)),
            Err(e) => Err(e),
        }
    }

    fn create(&self) -> Result<MasterKey, CryptoError> {
        let parent = self.path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| {
                self.error(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }

        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Created by someone else since we looked: use theirs.
                return self
                    .load()?
                    .ok_or_else(|| self.error("vanished while being created"));
            }
            Err(e) => return Err(self.error(format!("cannot create: {e}"))),
        };

        let key = MasterKey::generate();
        let mut text = Zeroizing::new(key.to_hex());
        text.push('\n');
        if let Err(e) = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
        {
            drop(file);
            // Leave no empty or partial key file behind.
            let _ = fs::remove_file(&self.path);
            return Err(self.error(format!("cannot write: {e}")));
        }
        drop(file);
        // Make the new directory entry durable too (best effort): losing the
        // key file after data was encrypted under it would lose the data.
        #[cfg(unix)]
        if let Ok(dir) = File::open(parent.unwrap_or(Path::new("."))) {
            let _ = dir.sync_all();
        }
        Ok(key)
    }
}

impl KeyProvider for KeyFile {
    /// Loads the key; a missing file is an error (nothing is created).
    fn master_key(&self) -> Result<MasterKey, CryptoError> {
        self.load()?
            .ok_or_else(|| self.error("not found (create it with KeyFile::load_or_create)"))
    }
}

/// The master key as 64 hex characters in an environment variable
/// (`ZHUCAN_MASTER_KEY` by default).
#[derive(Debug, Clone)]
pub struct EnvKey {
    var: String,
}

impl EnvKey {
    /// Reads the key from the variable `var`.
    pub fn new(var: impl Into<String>) -> Self {
        EnvKey { var: var.into() }
    }

    /// The variable's name.
    pub fn var(&self) -> &str {
        &self.var
    }
}

impl Default for EnvKey {
    fn default() -> Self {
        EnvKey::new(DEFAULT_KEY_ENV_VAR)
    }
}

impl KeyProvider for EnvKey {
    /// The key; an unset or empty variable is [`CryptoError::MissingEnv`].
    fn master_key(&self) -> Result<MasterKey, CryptoError> {
        let value = match std::env::var(&self.var) {
            Ok(value) => Zeroizing::new(value),
            Err(std::env::VarError::NotPresent) => {
                return Err(CryptoError::MissingEnv(self.var.clone()));
            }
            Err(std::env::VarError::NotUnicode(raw)) => {
                raw.into_encoded_bytes().zeroize();
                return Err(CryptoError::KeyFormat(format!(
                    "environment variable {}: not valid UTF-8",
                    self.var
                )));
            }
        };
        if value.trim_ascii().is_empty() {
            return Err(CryptoError::MissingEnv(self.var.clone()));
        }
        MasterKey::from_hex(&value).map_err(|e| match e {
            CryptoError::KeyFormat(reason) => {
                CryptoError::KeyFormat(format!("environment variable {}: {reason}", self.var))
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "zhucan-crypto-test-{}-{}",
                std::process::id(),
                crate::random_token(8)
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn hex_round_trip() {
        let key = MasterKey::from_hex(HEX).unwrap();
        assert_eq!(key.as_bytes()[31], 0x1f);
        assert_eq!(key.to_hex(), HEX);
        assert_eq!(
            MasterKey::from_hex(&HEX.to_uppercase()).unwrap().to_hex(),
            HEX
        );
        assert_eq!(
            MasterKey::from_hex(&format!(" {HEX}\n")).unwrap().to_hex(),
            HEX
        );
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(MasterKey::from_bytes(bytes).to_hex(), HEX);
    }

    #[test]
    fn hex_errors_are_clear_and_do_not_echo_the_key() {
        let e = MasterKey::from_hex(&HEX[..62]).unwrap_err();
        assert!(matches!(e, CryptoError::KeyFormat(_)));
        assert!(e.to_string().contains("found 62 characters"), "{e}");

        let bad = format!("{}zz", &HEX[..62]);
        let e = MasterKey::from_hex(&bad).unwrap_err();
        assert!(
            e.to_string().contains("non-hex character at position 63"),
            "{e}"
        );
        assert!(!e.to_string().contains(&HEX[..20]));

        // 64 characters but multi-byte: must not panic.
        let e = MasterKey::from_hex(&"é".repeat(64)).unwrap_err();
        assert!(matches!(e, CryptoError::KeyFormat(_)));
        let e = MasterKey::from_hex(&format!("{}é", &HEX[..63])).unwrap_err();
        assert!(matches!(e, CryptoError::KeyFormat(_)));
        assert!(MasterKey::from_hex("").is_err());
    }

    #[test]
    fn debug_hides_bytes() {
        let key = MasterKey::from_hex(HEX).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey(**)");
        assert_eq!(format!("{key:#?}"), "MasterKey(**)");
    }

    #[test]
    fn generated_keys_differ() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        assert_ne!(a.to_hex(), b.to_hex());
        assert_ne!(a.as_bytes(), &[0; 32]);
    }

    #[test]
    fn key_file_created_once_then_reloaded() {
        let tmp = TempDir::new();
        let path = tmp.0.join("nested").join("dir").join("master.key");
        let kf = KeyFile::new(&path);
        assert!(matches!(kf.master_key(), Err(CryptoError::KeyFile { .. })));

        let created = kf.load_or_create().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert_eq!(text, format!("{}\n", created.to_hex()));

        assert_eq!(kf.load_or_create().unwrap().to_hex(), created.to_hex());
        assert_eq!(kf.master_key().unwrap().to_hex(), created.to_hex());
        assert_eq!(
            KeyFile::new(&path).master_key().unwrap().to_hex(),
            created.to_hex()
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o077, 0);
        }
    }

    #[test]
    fn missing_key_file_error_names_the_path() {
        let tmp = TempDir::new();
        let path = tmp.0.join("absent.key");
        let e = KeyFile::new(&path).master_key().unwrap_err();
        assert!(matches!(&e, CryptoError::KeyFile { path: p, .. } if p == &path));
        assert!(e.to_string().contains("absent.key"), "{e}");
        assert!(!path.exists(), "master_key must not create the file");
    }

    #[cfg(unix)]
    #[test]
    fn key_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = TempDir::new();
        let path = tmp.0.join("master.key");
        let kf = KeyFile::new(&path);
        kf.load_or_create().unwrap();

        for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let e = kf.master_key().unwrap_err();
            assert!(
                matches!(e, CryptoError::KeyPermissions { .. }),
                "mode {mode:o}"
            );
            assert!(
                e.to_string()
                    .contains("must be readable by its owner only (chmod 600)"),
                "{e}"
            );
            assert!(e.to_string().contains("master.key"), "{e}");
            // load_or_create must refuse too, and must not replace the file.
            assert!(matches!(
                kf.load_or_create(),
                Err(CryptoError::KeyPermissions { .. })
            ));
        }
        for mode in [0o600, 0o400] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            kf.master_key().unwrap();
        }
    }

    #[test]
    fn malformed_key_file_is_refused_not_replaced() {
        let tmp = TempDir::new();
        let path = tmp.0.join("master.key");
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .unwrap()
            .write_all(b"not a key\n")
            .unwrap();

        let kf = KeyFile::new(&path);
        let e = kf.load_or_create().unwrap_err();
        assert!(matches!(e, CryptoError::KeyFile { .. }), "{e:?}");
        assert!(e.to_string().contains("expected 64 hex characters"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a key\n");

        fs::write(&path, "0".repeat(10_000)).unwrap();
        assert!(
            kf.master_key()
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
    }

    #[test]
    fn env_key_missing_variable() {
        let var = format!(
            "ZHUCAN_TEST_UNSET_{}",
            crate::random_token(8).to_uppercase()
        );
        let e = EnvKey::new(&var).master_key().unwrap_err();
        assert!(matches!(&e, CryptoError::MissingEnv(v) if v == &var));
        assert_eq!(EnvKey::default().var(), "ZHUCAN_MASTER_KEY");
    }

    #[test]
    fn providers_compose() {
        let key = MasterKey::from_hex(HEX).unwrap();
        let boxed: Box<dyn KeyProvider> = Box::new(key.clone());
        assert_eq!(boxed.master_key().unwrap().to_hex(), HEX);
        let shared: Arc<dyn KeyProvider> = Arc::new(key);
        assert_eq!(shared.master_key().unwrap().to_hex(), HEX);
    }
}
