//! Message data: DATA bodies and BDAT chunks, read into a buffer bounded by
//! `Options::max_message_size` and handed out as one [`Event::Message`].

use super::{ChunkSink, Mode, Pending, Server, Step};
use crate::dot::Outcome;
use crate::reply::{self, Canned};
use crate::Event;

impl Server {
    /// Reads DATA body octets up to the end of data (see `dot`).
    pub(super) fn read_data(&mut self) -> Step {
        let Mode::Data(mut reader) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return Step::Again;
        };
        let (used, done) = reader.read(self.input.pending());
        self.input.consume(used);
        if !done {
            self.mode = Mode::Data(reader);
            return Step::NeedInput;
        }
        self.input.bound_line();
        match reader.finish() {
            Outcome::Message(bytes) => self.hand_message(bytes),
            Outcome::TooBig => self.refuse_message(reply::TOO_BIG),
            Outcome::BareLineEnding => self.refuse_message(reply::BARE_LINE_ENDING),
        }
    }

    /// Reads BDAT chunk octets; the reply comes once the chunk is complete
    /// (RFC 3030 §2).
    pub(super) fn read_chunk(&mut self) -> Step {
        let Mode::Chunk { left, sink } = &mut self.mode else {
            return Step::Again;
        };
        let pending = self.input.pending();
        let take = usize::try_from(*left).map_or(pending.len(), |l| l.min(pending.len()));
        if matches!(sink, ChunkSink::Message { .. }) {
            let chunks = self.transaction.as_mut().and_then(|t| t.chunks.as_mut());
            if let Some(chunks) = chunks {
                chunks.push(&pending[..take]);
            }
        }
        // `take` is at most `left`.
        *left -= take as u64;
        let (done, sink) = (*left == 0, *sink);
        self.input.consume(take);
        if !done {
            return Step::NeedInput;
        }
        self.mode = Mode::Command;
        self.input.bound_line();
        match sink {
            ChunkSink::Refuse(canned) => {
                self.refuse(canned);
                Step::Again
            }
            ChunkSink::Message { size, last } => self.chunk_received(size, last),
        }
    }

    /// A chunk of an accepted BDAT is in: refuse the message if it grew
    /// too big, acknowledge the chunk, or hand out the whole message.
    fn chunk_received(&mut self, size: u64, last: bool) -> Step {
        let chunks = self.transaction.as_mut().and_then(|t| t.chunks.take());
        let Some(chunks) = chunks.filter(|c| !c.too_big()) else {
            return self.refuse_message(reply::TOO_BIG);
        };
        if last {
            return self.hand_message(chunks.into_bytes().unwrap_or_default());
        }
        if let Some(tx) = self.transaction.as_mut() {
            tx.chunks = Some(chunks);
        }
        let text = format!("{size} octets received");
        self.push(250, Some("2.0.0"), &[&text]);
        Step::Again
    }

    fn hand_message(&mut self, bytes: Vec<u8>) -> Step {
        self.hand_out(Pending::Message, Event::Message(bytes))
            .into()
    }

    /// The core refuses the message itself: the transaction ends (RFC 5321
    /// §4.1.1.4: after the end of data, a failure reply ends it too).
    fn refuse_message(&mut self, canned: Canned) -> Step {
        self.transaction = None;
        self.refuse(canned);
        Step::Again
    }
}
