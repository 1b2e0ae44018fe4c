//! Echo: every `echo` request is answered with an `echo_ok` carrying the same value
//! (Maelstrom's first challenge).

// Beside the node: what highstorm needs to test it (not compiled without `harness`).
#[cfg(feature = "harness")]
pub mod check;
#[cfg(feature = "harness")]
mod system;
#[cfg(feature = "harness")]
pub mod workload;
#[cfg(feature = "harness")]
pub use system::system;

use highstorm_nodes::{Ctx, ErrorBody, ErrorCode, Message, MsgId, NoTimer, Node};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Echo's messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EchoMsg {
    /// Please send `echo` back.
    Echo {
        /// Any JSON value.
        echo: Value,
    },
    /// Here it is.
    EchoOk {
        /// The value from the request.
        echo: Value,
    },
}

/// A node that answers `echo` with `echo_ok`.
#[derive(Debug, Default)]
pub struct Echo {
    /// The planted bug of variant `wary`: remember requests, and after seeing one twice (a
    /// duplicated datagram) refuse everything from then on.
    wary: Option<Wary>,
}

/// What the `wary` variant keeps: the requests seen, and whether it has turned suspicious.
#[derive(Debug, Default)]
struct Wary {
    seen: std::collections::BTreeSet<(String, MsgId)>,
    suspicious: bool,
}

impl Echo {
    /// The variant `wary`, with a planted bug for testing the harness: a request delivered
    /// twice (the network duplicated it) makes the node suspect a replay attack, and it
    /// answers every later request with an indefinite error, forever.
    pub fn wary() -> Self {
        Echo {
            wary: Some(Wary::default()),
        }
    }
}

impl Node for Echo {
    type Msg = EchoMsg;
    type Timer = NoTimer;

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<EchoMsg>) {
        if let EchoMsg::Echo { echo } = &msg.body {
            if let (Some(w), Some(id)) = (self.wary.as_mut(), msg.msg_id) {
                w.suspicious |= !w.seen.insert((msg.src.clone(), id));
                if w.suspicious {
                    let e = ErrorBody::new(ErrorCode::Timeout, "suspected replay: try later");
                    ctx.reply_error(&msg, e);
                    return;
                }
            }
            let echo = echo.clone();
            ctx.reply(&msg, EchoMsg::EchoOk { echo });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::testing::Harness;

    #[test]
    fn answers_each_echo_with_its_value() {
        let mut h = Harness::new(Echo::default(), "n1", &[]);
        for (i, v) in [
            Value::from("hi"),
            Value::from(7),
            serde_json::json!({"a": [1]}),
        ]
        .into_iter()
        .enumerate()
        {
            let id = i as u64 + 10;
            let replies = h.request("c1", id, &EchoMsg::Echo { echo: v.clone() });
            assert_eq!(replies.len(), 1);
            assert_eq!(replies[0].in_reply_to, Some(id));
            assert_eq!(replies[0].dest, "c1");
            assert_eq!(replies[0].body, EchoMsg::EchoOk { echo: v });
        }
    }

    #[test]
    fn ignores_stray_replies() {
        let mut h = Harness::new(Echo::default(), "n1", &[]);
        let replies = h.request("c1", 1, &EchoMsg::EchoOk { echo: "x".into() });
        assert!(replies.is_empty());
    }
}
