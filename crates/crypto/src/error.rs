use std::path::PathBuf;

/// Errors of this crate. Messages never contain key material or plaintext.
#[derive(thiserror::Error, Debug)]
pub enum CryptoError {
    /// The master key text is not 64 hex characters.
    #[error("invalid master key: {0}")]
    KeyFormat(String),

    /// The key file is missing, unreadable or malformed.
    #[error("key file {}: {reason}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The key file can be read or written by its group or by others.
    #[error("key file {} must be readable by its owner only (chmod 600)", path.display())]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
    },

    /// The environment variable holding the master key is not set.
    #[error("environment variable {0} holding the master key is not set")]
    MissingEnv(String),

    /// Authenticated decryption failed: wrong key, wrong field label, unknown
    /// format version, truncated or tampered ciphertext.
    #[error("decryption failed (wrong key or field label, or the ciphertext was altered)")]
    Decrypt,

    /// An I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
