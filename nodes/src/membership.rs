//! Who else is in the cluster: one shared member list, seen by each node without itself.
//!
//! A host starting a thousand nodes builds the list of their names once and hands each node a
//! [`Peers`] view of it (a shared pointer and a position), instead of a thousand copies of
//! 999 names.

use std::fmt;
use std::sync::Arc;

/// The other nodes of the cluster, in a stable order: the cluster's member list without this
/// node. Cloning it shares the list.
///
/// It reads like a slice of names (`len`, `is_empty`, `iter`, `peers[i]`, `to_vec`).
#[derive(Clone, Default)]
pub struct Peers {
    /// Every member, in the cluster's order (this node included when `me` is set).
    members: Arc<[String]>,
    /// This node's position in `members`, if it is one of them.
    me: Option<usize>,
}

impl Peers {
    /// The members of `members` other than the one at position `me` (every member if `me` is
    /// past the end).
    pub fn excluding(members: Arc<[String]>, me: usize) -> Self {
        let me = (me < members.len()).then_some(me);
        Peers { members, me }
    }

    /// Every member of `members` (for a process that is not one of them, such as a client).
    pub fn all(members: Arc<[String]>) -> Self {
        Peers { members, me: None }
    }

    /// How many peers.
    pub fn len(&self) -> usize {
        self.members.len() - usize::from(self.me.is_some())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th peer, if there are that many.
    pub fn get(&self, i: usize) -> Option<&String> {
        match self.me {
            Some(me) if i >= me => self.members.get(i + 1),
            _ => self.members.get(i),
        }
    }

    /// The peers, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &String> + '_ {
        let (before, after) = self.halves();
        before.iter().chain(after)
    }

    /// The peers as an owned list.
    pub fn to_vec(&self) -> Vec<String> {
        let (before, after) = self.halves();
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(before);
        out.extend_from_slice(after);
        out
    }

    /// The whole member list with this node in it, when this node is one of the members: the
    /// shared list itself, so a node that wants "everyone" need not rebuild it.
    pub fn with_me(&self) -> Option<&Arc<[String]>> {
        self.me.map(|_| &self.members)
    }

    /// The members before this node, and after it.
    fn halves(&self) -> (&[String], &[String]) {
        match self.me {
            Some(me) => (&self.members[..me], &self.members[me + 1..]),
            None => (&self.members[..], &[]),
        }
    }
}

impl From<Vec<String>> for Peers {
    /// Peers given as a list of their names.
    fn from(names: Vec<String>) -> Self {
        Peers::all(names.into())
    }
}

impl std::ops::Index<usize> for Peers {
    type Output = String;
    fn index(&self, i: usize) -> &String {
        match self.get(i) {
            Some(p) => p,
            None => panic!("peer {i} of {}", self.len()),
        }
    }
}

impl PartialEq for Peers {
    /// Equal when they list the same peers in the same order, however they are held.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Peers {}

impl<'a> IntoIterator for &'a Peers {
    type Item = &'a String;
    type IntoIter = std::iter::Chain<std::slice::Iter<'a, String>, std::slice::Iter<'a, String>>;
    fn into_iter(self) -> Self::IntoIter {
        let (before, after) = self.halves();
        before.iter().chain(after)
    }
}

impl fmt::Debug for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (before, after) = self.halves();
        f.debug_list().entries(before.iter().chain(after)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Arc<[String]> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn peers_are_the_members_without_this_node_in_order() {
        let all = members(5);
        for me in 0..5 {
            let p = Peers::excluding(all.clone(), me);
            let expected: Vec<String> = all.iter().filter(|n| **n != all[me]).cloned().collect();
            assert_eq!(p.to_vec(), expected);
            assert_eq!(p.iter().cloned().collect::<Vec<_>>(), expected);
            assert_eq!(p.len(), 4);
            assert_eq!((0..4).map(|i| p[i].clone()).collect::<Vec<_>>(), expected);
            assert_eq!(p.get(4), None);
            assert_eq!(p, Peers::from(expected));
            assert_eq!(p.with_me().map(|m| m.len()), Some(5));
        }
        let clients = Peers::all(all.clone());
        assert_eq!(clients.len(), 5);
        assert_eq!(clients.with_me(), None);
        assert_eq!(clients.to_vec(), all.to_vec());
        assert!(Peers::from(vec![]).is_empty());
        assert_eq!(Peers::excluding(all, 9).len(), 5);
        assert_eq!(
            format!("{:?}", Peers::excluding(members(3), 1)),
            r#"["n0", "n2"]"#
        );
    }

    #[test]
    fn peers_share_one_member_list() {
        let all = members(1000);
        let views: Vec<Peers> = (0..1000)
            .map(|i| Peers::excluding(all.clone(), i))
            .collect();
        assert_eq!(Arc::strong_count(&all), 1001);
        assert!(views
            .iter()
            .all(|p| p.with_me().is_some_and(|m| Arc::ptr_eq(m, &all))));
    }
}
