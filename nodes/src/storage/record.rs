//! The checksummed record format every durable store uses, in the simulator and for real.
//!
//! A record is a header line and the value:
//!
//! ```text
//! highstorm-record 1 <value length> <xxh3-64 of key and value, 16 hex digits>\n<value>
//! ```
//!
//! The checksum covers the key too, so a record that lands under another key (a misdirected
//! write) is caught as well as a truncated (torn), emptied, bit-flipped or hand-edited one.

use xxhash_rust::xxh3::Xxh3;

/// The first word of every record's header.
pub const MAGIC: &str = "highstorm-record";
/// The record format's version.
pub const VERSION: u32 = 1;

fn checksum(key: &str, value: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(value);
    h.digest()
}

/// The bytes of the record for `key` holding `value`.
pub fn encode(key: &str, value: &[u8]) -> Vec<u8> {
    let header = format!(
        "{MAGIC} {VERSION} {} {:016x}\n",
        value.len(),
        checksum(key, value)
    );
    let mut out = Vec::with_capacity(header.len() + value.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(value);
    out
}

/// The value a record holds for `key`, or what is wrong with it.
pub fn decode(key: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Err("the record is empty".into());
    }
    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
        return Err("no record header (torn, or not written by this version of highstorm?)".into());
    };
    let header = std::str::from_utf8(&bytes[..end]).map_err(|_| "the header is not text")?;
    let fields: Vec<&str> = header.split(' ').collect();
    let [magic, version, len, sum] = fields.as_slice() else {
        return Err(format!("bad record header {header:?}"));
    };
    if *magic != MAGIC {
        return Err("no record header (not written by this version of highstorm?)".into());
    }
    if *version != VERSION.to_string() {
        return Err(format!(
            "record format version {version}, expected {VERSION}"
        ));
    }
    let len: usize = len
        .parse()
        .map_err(|_| format!("bad length in header {header:?}"))?;
    let sum = u64::from_str_radix(sum, 16)
        .ok()
        .filter(|_| sum.len() == 16)
        .ok_or_else(|| format!("bad checksum in header {header:?}"))?;
    let value = &bytes[end + 1..];
    if value.len() != len {
        return Err(format!(
            "it holds {} bytes of a {len}-byte value (truncated or extended)",
            value.len()
        ));
    }
    let actual = checksum(key, value);
    if actual != sum {
        return Err(format!(
            "checksum {actual:016x} does not match {sum:016x}: the record was changed after \
             it was written, or belongs to another key"
        ));
    }
    Ok(value.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_damage_is_detected() {
        let good = encode("job/1", b"{\"state\":\"queued\"}");
        assert_eq!(
            decode("job/1", &good).as_deref(),
            Ok(&b"{\"state\":\"queued\"}"[..])
        );
        // Torn: cut short anywhere.
        for cut in 0..good.len() {
            assert!(decode("job/1", &good[..cut]).is_err(), "cut at {cut}");
        }
        // A flipped bit anywhere.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(decode("job/1", &bad).is_err(), "bit flip at byte {i}");
        }
        // Misdirected: the record of another key.
        assert!(decode("job/2", &good).is_err());
    }
}
