//! One mail transaction over an open, greeted connection: MAIL, RCPT for
//! each recipient, then DATA (or BDAT when the peer offers CHUNKING), with
//! a reply for every recipient.
//!
//! With PIPELINING (RFC 2920) MAIL and every RCPT go in one write and the
//! replies are read in order; DATA waits for them, so that a message is
//! never sent after all its recipients were refused (§3.1).

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
    let (r, results) = envelope(conn, ext, mail, rcpts, t).await?;
    if !r.is_positive() {
        conn.command(command::RSET, t.mail, "RSET").await?;
        return Ok(vec![r; rcpts.len()]);
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

/// MAIL and RCPTs: the MAIL reply, and each recipient's refusal (`None`
/// when accepted).
async fn envelope(
    conn: &mut Conn,
    ext: &Extensions,
    mail: &MailParams,
    rcpts: &[RcptParams],
    t: &Timeouts,
) -> Result<(Reply, Vec<Option<Reply>>), ConnError> {
    let refused = |r: Reply| (!r.is_positive()).then_some(r);
    if ext.pipelining {
        let mut batch = command::mail_from(mail, ext);
        for rcpt in rcpts {
            batch.extend_from_slice(&command::rcpt_to(rcpt, ext));
        }
        conn.send(&batch, t.mail, "MAIL").await?;
        let mail_reply = conn.reply(t.mail, "MAIL").await?;
        let mut results = Vec::with_capacity(rcpts.len());
        for _ in rcpts {
            results.push(refused(conn.reply(t.rcpt, "RCPT").await?));
        }
        return Ok((mail_reply, results));
    }
    let mail_reply = conn
        .command(&command::mail_from(mail, ext), t.mail, "MAIL")
        .await?;
    let mut results = Vec::with_capacity(rcpts.len());
    if mail_reply.is_positive() {
        for rcpt in rcpts {
            results.push(refused(
                conn.command(&command::rcpt_to(rcpt, ext), t.rcpt, "RCPT")
                    .await?,
            ));
        }
    }
    Ok((mail_reply, results))
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
