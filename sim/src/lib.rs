//! highstorm
