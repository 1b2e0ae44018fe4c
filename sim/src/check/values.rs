//! A numbering of a set of `u64` values, for checkers that look values up hundreds of
//! thousands of times per run (every value of every read): a table when the values are dense
//! (as workloads draw them), a binary search otherwise.

/// The values of a set, numbered `0..len` in ascending order.
#[derive(Clone, Debug, Default)]
pub struct ValueIndex {
    /// The values, ascending.
    sorted: Vec<u64>,
    /// When the values span a small range: `slot[v - min]` is the number of `v` plus one (0:
    /// not in the set).
    table: Option<(u64, Vec<u32>)>,
}

impl ValueIndex {
    /// Numbers the distinct `values`.
    pub fn new(values: impl IntoIterator<Item = u64>) -> Self {
        let mut sorted: Vec<u64> = values.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let table = match (sorted.first(), sorted.last()) {
            (Some(&min), Some(&max))
                if max - min < 16 * sorted.len() as u64 + 1024
                    && sorted.len() < u32::MAX as usize =>
            {
                let mut slot = vec![0u32; (max - min + 1) as usize];
                for (i, &v) in sorted.iter().enumerate() {
                    slot[(v - min) as usize] = i as u32 + 1;
                }
                Some((min, slot))
            }
            _ => None,
        };
        ValueIndex { sorted, table }
    }

    /// The number of `v`, if it is in the set.
    #[inline]
    pub fn get(&self, v: u64) -> Option<usize> {
        match &self.table {
            Some((min, slot)) => {
                let i = *slot.get(usize::try_from(v.checked_sub(*min)?).ok()?)?;
                (i > 0).then(|| i as usize - 1)
            }
            None => self.sorted.binary_search(&v).ok(),
        }
    }

    /// Whether `v` is in the set.
    #[inline]
    pub fn contains(&self, v: u64) -> bool {
        self.get(v).is_some()
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The value numbered `i`.
    pub fn value(&self, i: usize) -> u64 {
        self.sorted[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_sets_number_the_same_way() {
        for values in [vec![5, 3, 9, 3, 4], vec![u64::MAX, 0, 1 << 40, 7], vec![]] {
            let index = ValueIndex::new(values.iter().copied());
            let mut distinct = values.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(index.len(), distinct.len());
            for (i, v) in distinct.iter().enumerate() {
                assert_eq!(index.get(*v), Some(i));
                assert_eq!(index.value(i), *v);
            }
            for absent in [2, 6, 8, 10, 1 << 41, u64::MAX - 1] {
                if !distinct.contains(&absent) {
                    assert!(!index.contains(absent), "{absent} in {values:?}");
                }
            }
        }
        assert!(ValueIndex::new([3, 4, 5]).table.is_some());
        assert!(ValueIndex::new([0, u64::MAX]).table.is_none());
    }
}
