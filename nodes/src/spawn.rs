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

/// One value of a system's config that does not fit: its key, dotted from the top of the
/// config (`slow.n3`, `corpus.files`; empty for the config as a whole), and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct ConfigProblem {
    /// The key, dotted from the top of the config (empty: the whole config).
    pub key: String,
    /// What is wrong with its value.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with the value at `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }

    /// `Err` naming `key` unless `ms` is a usable period: at least 1 ms (a period of 0 re-arms
    /// its timer at the same instant forever) and at most [`MAX_PERIOD_MS`].
    pub fn period_ms(key: &str, ms: u64) -> Result<(), ConfigProblem> {
        if (1..=MAX_PERIOD_MS).contains(&ms) {
            Ok(())
        } else {
            Err(ConfigProblem::new(
                key,
                format!("{ms} ms is out of range: must be 1..={MAX_PERIOD_MS} (1 ms to 1 h)"),
            ))
        }
    }

    /// `Err` naming `key` unless `n` is within `range`.
    pub fn within<N>(key: &str, n: N, range: std::ops::RangeInclusive<N>) -> Result<(), Self>
    where
        N: PartialOrd + std::fmt::Debug,
    {
        // Debug: `1e308` rather than 309 digits.
        if range.contains(&n) {
            Ok(())
        } else {
            Err(ConfigProblem::new(
                key,
                format!(
                    "{n:?} is out of range: must be {:?}..={:?}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }
}

/// The longest period or timeout (in milliseconds) a shipped system's config accepts: an hour.
pub const MAX_PERIOD_MS: u64 = 3_600_000;

/// A system's config type: read from the scenario's `[config]` (or a real node's `--config`),
/// then checked, so a value out of range is refused before a node starts rather than found as
/// a panic or a hang later.
pub trait SystemConfig: serde::de::DeserializeOwned + Default {
    /// Checks every value on its own terms (no zero or absurd periods, factors and counts
    /// within range): what must hold wherever the node runs. The simulator and real mode both
    /// refuse a config that fails it.
    fn check(&self) -> Result<(), ConfigProblem> {
        Ok(())
    }

    /// The nodes the config names, each with its key (`("manager", "n0")`,
    /// `("slow.n3", "n3")`): the simulator checks each is a node of the scenario.
    fn nodes(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The config of a system that takes none: any key is an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

impl SystemConfig for NoConfig {}

/// Reads a config into `T` (its `Default` when the config is absent or empty); a value that
/// does not fit is a [`ConfigProblem`] naming its key.
pub fn read_config<T: serde::de::DeserializeOwned + Default>(
    config: &serde_json::Value,
) -> Result<T, ConfigProblem> {
    if config.as_object().is_some_and(|o| o.is_empty()) || config.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(config).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ConfigProblem::new(key, e.into_inner().to_string())
    })
}

/// Reads and checks ([`SystemConfig::check`]) a config: what a system's nodes start from.
pub fn read_checked_config<T: SystemConfig>(
    config: &serde_json::Value,
) -> Result<T, ConfigProblem> {
    let cfg: T = read_config(config)?;
    cfg.check()?;
    Ok(cfg)
}

/// Reads a system's `[config]` table into its config type (the type's `Default` when the table
/// is absent or empty); a mismatch is a [`SpawnError::BadConfig`] naming the key.
pub fn config<T: serde::de::DeserializeOwned + Default>(
    system: &str,
    config: &serde_json::Value,
) -> Result<T, SpawnError> {
    read_config(config).map_err(|p| bad_config(system, p))
}

/// Reads a system's `[config]` table into its config type and checks it
/// ([`SystemConfig::check`]); a mismatch or a value out of range is a
/// [`SpawnError::BadConfig`] naming the key.
pub fn checked_config<T: SystemConfig>(
    system: &str,
    config: &serde_json::Value,
) -> Result<T, SpawnError> {
    read_checked_config(config).map_err(|p| bad_config(system, p))
}

fn bad_config(system: &str, p: ConfigProblem) -> SpawnError {
    SpawnError::BadConfig {
        system: system.to_owned(),
        reason: if p.key.is_empty() {
            p.message
        } else {
            p.to_string()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Cfg {
        tick_ms: u64,
        slow: BTreeMap<String, f64>,
    }

    impl SystemConfig for Cfg {
        fn check(&self) -> Result<(), ConfigProblem> {
            ConfigProblem::period_ms("tick_ms", self.tick_ms)
        }
    }

    #[test]
    fn config_problems_name_the_key() {
        let p = read_config::<Cfg>(&serde_json::json!({"slow": {"n3": "fast"}})).unwrap_err();
        assert_eq!(p.key, "slow.n3");
        let p = read_config::<Cfg>(&serde_json::json!({"tick": 1})).unwrap_err();
        assert_eq!(p.key, "tick");
        let p = read_checked_config::<Cfg>(&serde_json::json!({"tick_ms": 0})).unwrap_err();
        assert_eq!(p.key, "tick_ms");
        let e = checked_config::<Cfg>("x", &serde_json::json!({"tick_ms": 0})).unwrap_err();
        assert!(
            e.to_string().contains("`tick_ms`: 0 ms is out of range"),
            "{e}"
        );
        assert!(read_checked_config::<Cfg>(&serde_json::json!({"tick_ms": 5})).is_ok());
        let p = read_config::<Cfg>(&serde_json::json!("fast")).unwrap_err();
        assert_eq!(p.key, "");
    }
}
