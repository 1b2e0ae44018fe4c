//! What a host needs from a system to start its nodes: the errors of starting one, outside
//! work and initial blobs, and reading a system's `[config]` table.

/// Why a system could not be started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpawnError {
    /// No system by that name in the registry the run was given.
    #[error("unknown system `{name}` (known: {known})")]
    UnknownSystem {
        /// The name asked for.
        name: String,
        /// The systems the registry has, comma-separated.
        known: String,
    },
    /// The system has no such variant.
    #[error("system `{system}` has no variant `{variant}` (known: {known})")]
    UnknownVariant {
        /// The system.
        system: String,
        /// The requested variant.
        variant: String,
        /// The variants it has.
        known: String,
    },
    /// The system's `[config]` table did not fit.
    #[error("bad config for `{system}`: {reason}")]
    BadConfig {
        /// The system.
        system: String,
        /// What was wrong.
        reason: String,
    },
}

/// What a piece of outside work produced, and how many bytes it read and wrote (the simulator
/// makes it take time in proportion).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkOutcome {
    /// The result handed to [`Node::on_work_done`](crate::Node::on_work_done).
    pub result: crate::WorkResult,
    /// Bytes read and written.
    pub bytes: u64,
}

/// Runs one piece of outside work against a blob store. It must be a pure function of the
/// request and the blobs (the simulator relies on it for determinism).
pub type WorkFn = fn(&crate::WorkRequest, &mut dyn crate::storage::Blobs) -> WorkOutcome;

/// The initial blobs, `(path, contents)`, for a system's `[config]`.
pub type BlobsFn = fn(&serde_json::Value) -> Result<Vec<(String, String)>, SpawnError>;

/// Reads a system's `[config]` table into its config type (the type's `Default` when the
/// table is absent or empty); a mismatch is a clear [`SpawnError::BadConfig`].
pub fn config<T: serde::de::DeserializeOwned + Default>(
    system: &str,
    config: &serde_json::Value,
) -> Result<T, SpawnError> {
    if config.as_object().is_some_and(|o| o.is_empty()) || config.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(config.clone()).map_err(|e| SpawnError::BadConfig {
        system: system.to_owned(),
        reason: e.to_string(),
    })
}
