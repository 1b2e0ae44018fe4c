//! The decimal digits of numbers below 1000 from a table: most numbers our messages and traces
//! hold are small values in long lists, and writing each with divisions (or through a general
//! formatter that ends in a call to `memcpy`) was a large part of encoding them.

/// `SMALL[n]` for `n` below 1000: its digits, left-aligned in three bytes, and how many.
pub static SMALL: [[u8; 4]; 1000] = {
    let mut table = [[0u8; 4]; 1000];
    let mut n = 0;
    while n < 1000 {
        let (h, t, u) = ((n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8);
        table[n] = match n {
            0..=9 => [b'0' + u, 0, 0, 1],
            10..=99 => [b'0' + t, b'0' + u, 0, 2],
            _ => [b'0' + h, b'0' + t, b'0' + u, 3],
        };
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_each_numbers_digits() {
        for (n, &[a, b, c, len]) in SMALL.iter().enumerate() {
            assert_eq!(&[a, b, c][..usize::from(len)], n.to_string().as_bytes());
        }
    }
}
