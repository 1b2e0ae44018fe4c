//! Maelstrom's stdio protocol: JSON messages one per line on stdin, replies one per line on
//! stdout, logs on stderr. The first message is Maelstrom's `init`, answered with `init_ok`;
//! only then does the node start.
//!
//! Lines are read as bytes: a line that is not UTF-8, not JSON or too long is logged and
//! dropped (or answered with an error when it is a request with a sender), before `init` and
//! after it alike; it never stops the node. A line over the message size limit is not held in
//! memory beyond the limit.

use super::{drive, RealEnvironment, Transport};
use highstorm_nodes::wire::{self, Envelope, ErrorBody, ErrorCode, InitPayload, MAX_MESSAGE_BYTES};
use highstorm_nodes::Transmit;
use highstorm_nodes::{Process, ProcessSetup};
use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// Reads newline-terminated lines as bytes, keeping at most one byte over the message limit of
/// each (so an oversized line is still recognised as one, and costs no more memory).
/// Cancel-safe: a partial line stays in the reader.
struct LineReader<R> {
    input: R,
    line: Vec<u8>,
    /// The length of the current line, including bytes not kept.
    len: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    fn new(input: R) -> Self {
        LineReader {
            input,
            line: vec![],
            len: 0,
        }
    }

    /// The next line that is not blank (without its `\n` or `\r\n`), or `None` at the end
    /// of the input.
    async fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let buf = self.input.fill_buf().await?;
            if buf.is_empty() {
                if self.len == 0 {
                    return Ok(None);
                }
            } else {
                let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[..i], Some(i + 1)),
                    None => (buf, None),
                };
                let room = (MAX_MESSAGE_BYTES + 1).saturating_sub(self.line.len());
                self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                self.len += chunk.len();
                let used = end.unwrap_or(chunk.len());
                self.input.consume(used);
                if end.is_none() {
                    continue;
                }
            }
            let mut line = std::mem::take(&mut self.line);
            let len = std::mem::take(&mut self.len);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if len > MAX_MESSAGE_BYTES {
                tracing::warn!(
                    bytes = len,
                    limit = MAX_MESSAGE_BYTES,
                    "input line over the message size limit dropped"
                );
            }
            return Ok(Some(line));
        }
    }
}

/// A [`Transport`] over a line reader and a writer (stdin and stdout in production).
pub struct StdioTransport<R, W> {
    lines: LineReader<R>,
    out: W,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> StdioTransport<R, W> {
    /// Reads messages from `input`, writes them to `output`.
    pub fn new(input: R, output: W) -> Self {
        StdioTransport {
            lines: LineReader::new(input),
            out: output,
        }
    }

    async fn write_line(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes).await?;
        self.out.write_all(b"\n").await?;
        self.out.flush().await
    }

    /// Reads lines until Maelstrom's `init`, answering it with `init_ok`; returns the node id
    /// and the other nodes. Anything before `init` is logged and skipped; a request among it
    /// is answered with an error.
    pub async fn handshake(&mut self) -> io::Result<(String, Vec<String>)> {
        loop {
            let Some(line) = self.lines.next_line().await? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stdin closed before Maelstrom's init",
                ));
            };
            match wire::decode::<InitPayload>(&line) {
                Ok(env) => {
                    if let InitPayload::Init { node_id, node_ids } = env.body.payload {
                        let reply = wire::encode_parts(
                            &node_id,
                            &env.src,
                            Some(0),
                            env.body.msg_id,
                            &InitPayload::InitOk,
                        );
                        self.write_line(&reply).await?;
                        let peers = node_ids.into_iter().filter(|n| *n != node_id).collect();
                        return Ok((node_id, peers));
                    }
                    tracing::warn!(src = %env.src, "`init_ok` before init ignored");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "input before init");
                    if let Some(h) = e.header().filter(|h| h.body.is_answerable()) {
                        let text = match &h.body.problem {
                            Some(p) => format!("node not initialized: send init first ({p})"),
                            None => "node not initialized: send init first".to_owned(),
                        };
                        let error = ErrorBody::new(ErrorCode::TemporarilyUnavailable, text);
                        let reply =
                            wire::encode_parts(&h.dest, &h.src, None, h.body.msg_id, &error);
                        self.write_line(&reply).await?;
                    }
                }
            }
        }
    }
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> Transport for StdioTransport<R, W> {
    async fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        // Oversized lines are handed over too (cut at one byte over the limit): the process
        // counts and reports them.
        self.lines.next_line().await
    }

    async fn send(&mut self, t: &Transmit) -> io::Result<()> {
        self.write_line(&t.bytes).await
    }
}

/// Runs a node under Maelstrom: handshake on `input`, then the driver loop until `input` ends.
/// `spawn` builds the node once its id and peers are known.
pub async fn serve<R, W>(
    input: R,
    output: W,
    seed: u64,
    spawn: impl FnOnce(ProcessSetup) -> io::Result<Box<dyn Process>>,
) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut transport = StdioTransport::new(input, output);
    let (id, peers) = transport.handshake().await?;
    let mut process = spawn(ProcessSetup {
        id,
        peers: peers.into(),
        seed,
        boot: 0,
        durable: Default::default(),
    })?;
    let mut env = RealEnvironment::default();
    drive(process.as_mut(), &mut transport, &mut env).await
}

/// Maelstrom's `init` message for `node_id`, as one line (for tests and tools).
pub fn init_message(node_id: &str, node_ids: &[&str], msg_id: u64) -> String {
    let env = Envelope {
        src: "c0".to_owned(),
        dest: node_id.to_owned(),
        body: wire::Body {
            msg_id: Some(msg_id),
            in_reply_to: None,
            payload: InitPayload::Init {
                node_id: node_id.to_owned(),
                node_ids: node_ids.iter().map(|n| (*n).to_owned()).collect(),
            },
        },
    };
    String::from_utf8_lossy(&wire::encode(&env)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use highstorm_nodes::{Ctx, Message, NoTimer, Node, NodeProcess};
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// Says back what it is told.
    struct Parrot;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Msg {
        Say { text: Value },
        SayOk { text: Value },
    }

    impl Node for Parrot {
        type Msg = Msg;
        type Timer = NoTimer;
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: Message<Msg>) {
            if let Msg::Say { text } = &msg.body {
                let text = text.clone();
                ctx.reply(&msg, Msg::SayOk { text });
            }
        }
    }

    async fn run(input: String) -> Vec<Value> {
        run_bytes(input.into_bytes()).await
    }

    async fn run_bytes(input: Vec<u8>) -> Vec<Value> {
        let mut out = Vec::new();
        serve(&input[..], &mut out, 0, |setup| {
            Ok(Box::new(NodeProcess::new(Parrot, setup)))
        })
        .await
        .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// What one input line must lead to.
    #[derive(Debug)]
    enum Expect {
        /// Logged and dropped: no output.
        Dropped,
        /// An error reply with this code, answering this msg_id (or none).
        Error(u64, Option<u64>),
    }

    #[tokio::test]
    async fn malformed_lines_before_and_after_init_are_answered_or_dropped_and_service_goes_on() {
        use Expect::{Dropped, Error};
        let say = |body: &str| format!(r#"{{"src":"c1","dest":"n1","body":{body}}}"#).into_bytes();
        // Invalid UTF-8 inside an otherwise good request.
        let not_utf8 = |l: Vec<u8>| -> Vec<u8> {
            l.into_iter()
                .map(|b| if b == b'?' { 0xff } else { b })
                .collect()
        };
        let long = |n: usize| {
            let mut l = say(&format!(
                r#"{{"type":"say","msg_id":1,"text":"{}"}}"#,
                "x".repeat(n)
            ));
            l.truncate(n.max(l.len()));
            l
        };
        let before: Vec<(Vec<u8>, Expect)> = vec![
            (b"\xff\xfe not utf-8 \xc3".to_vec(), Dropped),
            (
                not_utf8(say(r#"{"type":"say","msg_id":2,"text":"?"}"#)),
                Error(11, Some(2)),
            ),
            (b"{not json".to_vec(), Dropped),
            (say(r#"{"type":"say","msg_id":"x"}"#), Error(11, None)),
            (say(r#"{"type":"say","msg_id":3}"#), Error(11, Some(3))),
            (say(r#"{"type":"say_ok","in_reply_to":3}"#), Dropped),
            (say(r#"{"type":"error","code":1,"msg_id":4}"#), Dropped),
            (long(MAX_MESSAGE_BYTES + 10), Dropped),
            (b"   \t".to_vec(), Dropped),
        ];
        let after: Vec<(Vec<u8>, Expect)> = vec![
            (b"\xff\xfe not utf-8".to_vec(), Dropped),
            (
                not_utf8(say(r#"{"type":"say","msg_id":2,"text":"?"}"#)),
                Error(12, Some(2)),
            ),
            (b"{not json".to_vec(), Dropped),
            (b"[1, 2]".to_vec(), Dropped),
            (say("5"), Dropped),
            (
                say(r#"{"type":"say","msg_id":"x","text":1}"#),
                Error(12, None),
            ),
            (
                say(r#"{"type":"say","msg_id":-1,"text":1}"#),
                Error(12, None),
            ),
            (
                say(r#"{"type":"say","msg_id":1.5,"text":1}"#),
                Error(12, None),
            ),
            (say(r#"{"type":5,"msg_id":4}"#), Error(12, Some(4))),
            (say(r#"{"type":["say"],"msg_id":5}"#), Error(12, Some(5))),
            (say(r#"{"type":"shout","msg_id":6}"#), Error(10, Some(6))),
            (say(r#"{"type":"say","msg_id":7}"#), Error(12, Some(7))),
            (
                say(r#"{"type":"say_ok","in_reply_to":"x","text":1}"#),
                Dropped,
            ),
            (say(r#"{"type":"error","msg_id":"x"}"#), Dropped),
            (long(MAX_MESSAGE_BYTES + 1), Dropped),
            (long(10 * MAX_MESSAGE_BYTES), Dropped),
            // Fits the limit, but the reply that repeats it does not: an error in its place.
            (
                say(&format!(
                    r#"{{"type":"say","msg_id":8,"text":"{}"}}"#,
                    "e".repeat(MAX_MESSAGE_BYTES - 80)
                )),
                Error(13, Some(8)),
            ),
        ];
        let mut input = vec![];
        for (line, _) in &before {
            input.extend_from_slice(line);
            input.push(b'\n');
        }
        input.extend_from_slice(init_message("n1", &["n1"], 1).as_bytes());
        input.extend_from_slice(b"\r\n");
        for (line, _) in &after {
            input.extend_from_slice(line);
            input.push(b'\n');
        }
        // Still serving: the last line is a good request (and has no newline).
        input.extend_from_slice(&say(r#"{"type":"say","msg_id":99,"text":"still here"}"#));
        let out = run_bytes(input).await;

        let mut want: Vec<(String, &Expect)> = vec![];
        for (i, (_, e)) in before.iter().enumerate() {
            want.push((format!("before init, line {i}"), e));
        }
        let init_ok = Error(0, Some(1));
        want.push(("init".into(), &init_ok));
        for (i, (_, e)) in after.iter().enumerate() {
            want.push((format!("after init, line {i}"), e));
        }
        let mut out = out.into_iter();
        for (what, e) in want {
            match e {
                Dropped => {}
                Error(0, Some(1)) => {
                    let v = out.next().unwrap_or_default();
                    assert_eq!(v["body"]["type"], "init_ok", "{what}: {v}");
                }
                Error(code, in_reply_to) => {
                    let v = out.next().unwrap_or_default();
                    assert_eq!(v["body"]["type"], "error", "{what}: {v}");
                    assert_eq!(v["body"]["code"], *code, "{what}: {v}");
                    assert_eq!(v["dest"], "c1", "{what}: {v}");
                    assert_eq!(
                        v["body"]["in_reply_to"].as_u64(),
                        *in_reply_to,
                        "{what}: {v}"
                    );
                    assert!(
                        v["body"]["text"].as_str().is_some_and(|t| !t.is_empty()),
                        "{what}: {v}"
                    );
                }
            }
        }
        let last = out.next().unwrap_or_default();
        assert_eq!(last["body"]["type"], "say_ok", "{last}");
        assert_eq!(last["body"]["text"], "still here");
        assert_eq!(out.next(), None, "nothing else was answered");
    }

    #[tokio::test]
    async fn init_then_a_request_then_garbage_keeps_serving() {
        let input = [
            init_message("n1", &["n1", "n2"], 1),
            r#"{"src":"c1","dest":"n1","body":{"type":"say","msg_id":2,"text":"hi"}}"#.into(),
            "{this is not json".into(),
            r#"{"src":"c1","dest":"n1","body":{"type":"say","msg_id":3}}"#.into(),
            r#"{"src":"c1","dest":"n1","body":{"type":"say","msg_id":4,"text":5}}"#.into(),
        ]
        .join("\n");
        let out = run(input).await;
        assert_eq!(out.len(), 4, "{out:?}");
        assert_eq!(out[0]["body"]["type"], "init_ok");
        assert_eq!(out[0]["body"]["in_reply_to"], 1);
        assert_eq!(out[1]["body"]["type"], "say_ok");
        assert_eq!(out[1]["body"]["in_reply_to"], 2);
        assert_eq!(out[1]["body"]["text"], "hi");
        assert_eq!(out[2]["body"]["type"], "error");
        assert_eq!(out[2]["body"]["code"], 12);
        assert_eq!(out[2]["body"]["in_reply_to"], 3);
        assert_eq!(out[3]["body"]["text"], 5);
    }

    #[tokio::test]
    async fn requests_before_init_get_an_error() {
        let input = [
            r#"{"src":"c1","dest":"n1","body":{"type":"say","msg_id":9,"text":"early"}}"#.into(),
            init_message("n1", &["n1"], 1),
        ]
        .join("\n");
        let out = run(input).await;
        assert_eq!(out[0]["body"]["code"], 11);
        assert_eq!(out[0]["body"]["in_reply_to"], 9);
        assert_eq!(out[1]["body"]["type"], "init_ok");
    }
}
