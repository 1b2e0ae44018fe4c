//! Message ids that never repeat across a node's incarnations.
//!
//! Replies are matched to requests by `in_reply_to` alone, so an id reused by a later
//! incarnation would hand the old incarnation's reply to a new request. Each incarnation
//! therefore draws its ids from its own range, named by its boot count:
//!
//! ```text
//! msg_id = slot << 32 | seq      slot = boot mod 2^21, seq = 1 ..= 2^32 - 1
//! ```
//!
//! - Boot 0 (every node that never restarted, and every Maelstrom node) numbers its messages
//!   1, 2, 3, ... exactly as Maelstrom peers expect.
//! - Every id is below 2^53, so it is an exact JSON integer in every language (JavaScript's
//!   `Number.MAX_SAFE_INTEGER` is 2^53 - 1).
//! - Two incarnations share a range only when their boot counts are equal modulo 2^21: never
//!   in the simulator (boots count up from 0), and in real mode only if a node restarts an
//!   exact multiple of 2^21 ms (about 35 minutes) after an earlier incarnation started, when
//!   its boot count is the default (milliseconds since the Unix epoch).
//! - An incarnation that sends 2^32 - 1 messages wraps around to the start of its own range,
//!   never into another incarnation's; from then on every id of the range counts as sent.

use crate::wire::MsgId;

/// Bits of a msg id that count one incarnation's messages.
const SEQ_BITS: u32 = 32;
/// How many incarnation ranges fit below 2^53.
const SLOTS: u64 = 1 << (53 - SEQ_BITS);
/// The last sequence number of a range.
const SEQ_MAX: u64 = (1 << SEQ_BITS) - 1;

/// One incarnation's message ids: hands them out in order and tells which it has issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MsgIds {
    /// The range's slot, shifted into place.
    base: MsgId,
    /// The sequence number the next id carries (1 ..= SEQ_MAX).
    next_seq: u64,
    /// Whether the sequence wrapped (every id of the range has been issued).
    wrapped: bool,
    /// How many ids were issued in all.
    issued: u64,
}

impl MsgIds {
    /// The ids of incarnation `boot`.
    pub(crate) fn for_boot(boot: u64) -> Self {
        MsgIds {
            base: (boot % SLOTS) << SEQ_BITS,
            next_seq: 1,
            wrapped: false,
            issued: 0,
        }
    }

    /// The id [`take`](MsgIds::take) returns next.
    pub(crate) fn peek(&self) -> MsgId {
        self.base | self.next_seq
    }

    /// Issues the next id.
    pub(crate) fn take(&mut self) -> MsgId {
        let id = self.peek();
        self.issued += 1;
        if self.next_seq == SEQ_MAX {
            self.next_seq = 1;
            self.wrapped = true;
        } else {
            self.next_seq += 1;
        }
        id
    }

    /// How many ids this incarnation issued.
    pub(crate) fn issued(&self) -> u64 {
        self.issued
    }

    /// Whether this incarnation issued `id`.
    pub(crate) fn has_issued(&self, id: MsgId) -> bool {
        if !self.in_range(id) {
            return false;
        }
        let seq = id & SEQ_MAX;
        seq != 0 && (self.wrapped || seq < self.next_seq)
    }

    /// Whether `id` lies in this incarnation's range (issued or not).
    pub(crate) fn in_range(&self, id: MsgId) -> bool {
        id >> SEQ_BITS == self.base >> SEQ_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_zero_counts_from_one_like_maelstrom() {
        let mut ids = MsgIds::for_boot(0);
        assert_eq!((ids.take(), ids.take(), ids.take()), (1, 2, 3));
        assert_eq!(ids.issued(), 3);
        assert!(ids.has_issued(1) && ids.has_issued(3));
        assert!(!ids.has_issued(0) && !ids.has_issued(4));
    }

    #[test]
    fn incarnations_never_share_an_id() {
        let mut first = MsgIds::for_boot(1);
        let mut second = MsgIds::for_boot(2);
        let a = first.take();
        let b = second.take();
        assert_eq!((a, b), (1 << 32 | 1, 2 << 32 | 1));
        assert!(!second.has_issued(a), "an earlier incarnation's id");
        assert!(!second.in_range(a));
        assert!(!MsgIds::for_boot(0).has_issued(b));
    }

    #[test]
    fn every_id_is_an_exact_json_integer() {
        let max_safe = (1u64 << 53) - 1;
        for boot in [SLOTS - 1, u64::MAX, 1_700_000_000_000] {
            let mut ids = MsgIds::for_boot(boot);
            ids.next_seq = SEQ_MAX;
            let last = ids.take();
            assert!(last <= max_safe, "boot {boot}: {last}");
            assert_eq!(last as f64 as u64, last);
        }
    }

    #[test]
    fn a_full_range_wraps_within_itself() {
        let mut ids = MsgIds::for_boot(5);
        ids.next_seq = SEQ_MAX;
        let last = ids.take();
        let wrapped = ids.take();
        assert_eq!(last, 5 << 32 | SEQ_MAX);
        assert_eq!(wrapped, 5 << 32 | 1, "back to the range's start");
        assert!(
            ids.has_issued(5 << 32 | 77),
            "after a wrap, all of the range was sent"
        );
        assert!(!ids.has_issued(6 << 32 | 1) && !ids.has_issued(4 << 32 | SEQ_MAX));
    }
}
