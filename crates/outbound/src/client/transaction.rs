//! One mail transaction over an open, greeted connection: MAIL, RCPT for
//! each recipient, then DATA (or BDAT when the peer offers CHUNKING), with
//! a reply for every recipient.
//!
//! Commands go one at a time. PIPELINING (RFC 2920) would save round trips
//! on many-recipient messages; the queue's throughput is bound by remote
//! peers, not by these few round trips, so we keep the simpler exchange.

use super::command::{self, Extensions, MailParams, RcptParams};
use super::conn::{Conn, ConnError};
use super::reply::{Class, Reply};
use crate::settings::Timeouts;

/// Runs the transaction; the result has one reply per recipient, in order:
/// the RCPT rejection, or the reply to the end of the message.
pub async fn run(
    conn: &mut Conn,
    ext: &Extensions,
    mail: &MailParams,
    rcpts: &[RcptParams],
    body: &[u8],
    t: &Timeouts,
) -> Result<Vec<Reply>, ConnError> {
    if let Some(limit) = ext.size.filter(|&n| n > 0) {
        if body.len() as u64 > limit {
            // RFC 1870 §6.1: the client should not send what the server
            // said it will refuse.
            let r = Reply::local(
                552,
                format!(
                    "5.3.4 message size {} exceeds the peer's limit {limit}",
                    body.len()
                ),
            );
            return Ok(vec![r; rcpts.len()]);
        }
    }
    let r = conn
        .command(&command::mail_from(mail, ext), t.mail, "MAIL")
        .await?;
    if !r.is_positive() {
        conn.command(command::RSET, t.mail, "RSET").await?;
        return Ok(vec![r; rcpts.len()]);
    }
    let mut results: Vec<Option<Reply>> = Vec::with_capacity(rcpts.len());
    for rcpt in rcpts {
        let r = conn
            .command(&command::rcpt_to(rcpt, ext), t.rcpt, "RCPT")
            .await?;
        results.push((!r.is_positive()).then_some(r));
    }
    if results.iter().all(Option::is_some) {
        conn.command(command::RSET, t.mail, "RSET").await?;
        return Ok(results.into_iter().flatten().collect());
    }
    let end = send_body(conn, ext, body, t).await?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| end.clone()))
        .collect())
}

async fn send_body(
    conn: &mut Conn,
    ext: &Extensions,
    body: &[u8],
    t: &Timeouts,
) -> Result<Reply, ConnError> {
    if ext.chunking {
        let chunk = command::chunk(body);
        conn.send(&command::bdat_last(chunk.len()), t.data_block, "BDAT")
            .await?;
        conn.send(&chunk, t.data_block, "BDAT chunk").await?;
        return conn.reply(t.data_end, "end of data").await;
    }
    let r = conn.command(command::DATA, t.data_init, "DATA").await?;
    if r.class() != Class::Intermediate {
        return Ok(r);
    }
    conn.send(&command::dot_stuff(body), t.data_block, "message")
        .await?;
    conn.reply(t.data_end, "end of data").await
}
