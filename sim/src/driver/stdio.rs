//! Maelstrom's stdio protocol: JSON messages one per line on stdin, replies one per line on
//! stdout, logs on stderr. The first message is Maelstrom's `init`, answered with `init_ok`;
//! only then does the node start.

use super::{drive, RealEnvironment, Transport};
use highstorm_nodes::wire::{self, Envelope, ErrorBody, ErrorCode, InitPayload};
use highstorm_nodes::Transmit;
use highstorm_nodes::{Process, ProcessSetup};
use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, Lines};

/// A [`Transport`] over a line reader and a writer (stdin and stdout in production).
pub struct StdioTransport<R, W> {
    lines: Lines<R>,
    out: W,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> StdioTransport<R, W> {
    /// Reads messages from `input`, writes them to `output`.
    pub fn new(input: R, output: W) -> Self {
        StdioTransport {
            lines: input.lines(),
            out: output,
        }
    }

    async fn write_line(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes).await?;
        self.out.write_all(b"\n").await?;
        self.out.flush().await
    }

    /// Reads lines until Maelstrom's `init`, answering it with `init_ok`; returns the node id
    /// and the other nodes. Anything before `init` is answered with an error and skipped.
    pub async fn handshake(&mut self) -> io::Result<(String, Vec<String>)> {
        loop {
            let Some(line) = self.lines.next_line().await? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stdin closed before Maelstrom's init",
                ));
            };
            if line.trim().is_empty() {
                continue;
            }
            match wire::decode::<InitPayload>(line.as_bytes()) {
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
                }
                Err(e) => {
                    tracing::warn!(error = %e, "input before init");
                    if let Some(h) = e.header() {
                        let error = ErrorBody::new(
                            ErrorCode::TemporarilyUnavailable,
                            "node not initialized: send init first",
                        );
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
        loop {
            match self.lines.next_line().await? {
                None => return Ok(None),
                Some(line) if line.trim().is_empty() => continue,
                // Oversized lines are handed over too: the process counts and reports them.
                Some(line) => return Ok(Some(line.into_bytes())),
            }
        }
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
        peers,
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
        let mut out = Vec::new();
        serve(input.as_bytes(), &mut out, 0, |setup| {
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
