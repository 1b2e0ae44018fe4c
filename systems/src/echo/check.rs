//! Echo's property: every reply carries exactly the value its request sent.

use highstorm::check::{Operation, Verdict};
use highstorm::scenario::Scenario;
use highstorm::trace::Trace;
use highstorm_nodes::OpPhase;

/// Every `ok` echo returned the value it was invoked with.
pub fn echo_replies_match(_: &Scenario, _: &Trace, ops: &[Operation]) -> Verdict {
    const NAME: &str = "echo-replies-match";
    let mut checked = 0;
    for op in ops {
        if let Some(c) = op.completion.as_ref().filter(|c| c.phase == OpPhase::Ok) {
            checked += 1;
            if c.value != op.value {
                return Verdict::violation(
                    NAME,
                    "reply-mismatch",
                    format!(
                        "{} op{} on {}: sent {} but got back {}",
                        op.client, op.op, op.node, op.value, c.value
                    ),
                );
            }
        }
    }
    Verdict::pass(NAME, format!("{checked} replies matched their requests"))
}
