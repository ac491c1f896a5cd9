//! An IMAP client over implicit TLS (RFC 9051, RFC 3501, RFC 8314): tagged
//! commands, untagged responses read line by line with their literals
//! (`{n}` then n octets) taken whole, and no more than the benchmarks
//! send. Strict in what it accepts: a tagged NO or BAD, an untagged BYE,
//! or a FETCH that does not return what was asked is an error, not speed.

use anyhow::{bail, Context as _};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::pop3::{Target, TlsSummary};

/// The longest line accepted (literals excepted): only a bound against a
/// broken server.
const MAX_LINE: u64 = 256 * 1024;

/// The largest literal accepted.
const MAX_LITERAL: u64 = 64 << 20;

/// What came back for one command besides its tagged OK.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Untagged `* n FETCH` responses.
    pub fetches: u64,
    /// Octets inside literals, all responses together.
    pub literal_octets: u64,
    /// Literals received.
    pub literals: u64,
    /// The last `* n EXISTS`.
    pub exists: Option<u64>,
}

/// One IMAP connection.
#[derive(Debug)]
pub struct Conn {
    io: BufReader<TlsStream<TcpStream>>,
    line: Vec<u8>,
    next_tag: u32,
}

impl Conn {
    /// TCP, the TLS handshake and the `* OK` greeting.
    pub async fn connect(target: &Target) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("connecting to {}", target.addr))?;
        tcp.set_nodelay(true)?;
        let tls = target
            .connector
            .connect(target.name.clone(), tcp)
            .await
            .context("TLS handshake")?;
        let mut conn = Self {
            // Small for idle sessions; the body scenario reads literals
            // straight through it anyway.
            io: BufReader::with_capacity(16 * 1024, tls),
            line: Vec::with_capacity(512),
            next_tag: 1,
        };
        read_line(&mut conn.io, &mut conn.line)
            .await
            .context("greeting")?;
        if !conn.line.starts_with(b"* OK") {
            bail!("greeting: {}", show(&conn.line));
        }
        Ok(conn)
    }

    pub fn tls(&self) -> TlsSummary {
        TlsSummary::of(self.io.get_ref().get_ref().1)
    }

    fn tag(&mut self) -> String {
        let t = format!("b{:04}", self.next_tag);
        self.next_tag += 1;
        t
    }

    /// Sends one command and reads up to its tagged answer, which must be OK.
    pub async fn command(&mut self, command: &str) -> anyhow::Result<Reply> {
        let tag = self.tag();
        self.io
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        self.io.flush().await?;
        read_reply(&mut self.io, &mut self.line, &tag).await
    }

    /// LOGIN with quoted strings (the password is never put into an error).
    pub async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        let cmd = format!("LOGIN {} {}", quoted(user), quoted(password));
        self.command(&cmd)
            .await
            .map_err(|e| anyhow::anyhow!("LOGIN for {user}: {e:#}"))?;
        Ok(())
    }

    /// SELECT: the number of messages (EXISTS).
    pub async fn select(&mut self, mailbox: &str) -> anyhow::Result<u64> {
        let r = self
            .command(&format!("SELECT {}", quoted(mailbox)))
            .await
            .context("SELECT")?;
        r.exists.context("SELECT: no EXISTS")
    }

    /// IDLE: waits for the continuation request; the session then stays
    /// in IDLE until [`Conn::done`].
    pub async fn idle(&mut self) -> anyhow::Result<String> {
        let tag = self.tag();
        self.io
            .write_all(format!("{tag} IDLE\r\n").as_bytes())
            .await?;
        self.io.flush().await?;
        loop {
            read_line(&mut self.io, &mut self.line)
                .await
                .context("IDLE")?;
            if self.line.starts_with(b"+") {
                return Ok(tag);
            }
            if !self.line.starts_with(b"* ") {
                bail!("IDLE: {}", show(&self.line));
            }
            skip_literals(&mut self.io, &mut self.line, &mut Reply::default()).await?;
        }
    }

    /// Ends IDLE and reads the tagged answer of the IDLE command.
    pub async fn done(&mut self, tag: &str) -> anyhow::Result<()> {
        self.io.write_all(b"DONE\r\n").await?;
        self.io.flush().await?;
        read_reply(&mut self.io, &mut self.line, tag)
            .await
            .context("DONE")?;
        Ok(())
    }

    /// LOGOUT, waiting for its tagged OK (after the untagged BYE).
    pub async fn logout(mut self) -> anyhow::Result<()> {
        let tag = self.tag();
        self.io
            .write_all(format!("{tag} LOGOUT\r\n").as_bytes())
            .await?;
        self.io.flush().await?;
        loop {
            read_line(&mut self.io, &mut self.line)
                .await
                .context("LOGOUT")?;
            if self.line.starts_with(tag.as_bytes()) {
                check_ok(&self.line, &tag).context("LOGOUT")?;
                break;
            }
        }
        let _ = self.io.get_mut().shutdown().await;
        Ok(())
    }
}

/// An IMAP quoted string.
pub fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn show(line: &[u8]) -> String {
    let l = String::from_utf8_lossy(line);
    let l = l.trim_end();
    l.chars().take(200).collect()
}

/// Reads one line, CRLF included.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, line: &mut Vec<u8>) -> anyhow::Result<()> {
    line.clear();
    let n = (&mut *r).take(MAX_LINE).read_until(b'\n', line).await?;
    if line.ends_with(b"\n") {
        return Ok(());
    }
    if n == 0 {
        bail!("the server closed the connection");
    }
    if n as u64 == MAX_LINE {
        bail!("a line longer than {MAX_LINE} octets");
    }
    bail!("the server closed the connection inside a line")
}

/// The size of the literal announced at the end of `line` (`{n}` or
/// `{n+}` before the CRLF), if any.
pub fn literal_size(line: &[u8]) -> anyhow::Result<Option<u64>> {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let Some(l) = l.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = l.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let digits = &l[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let n: u64 = std::str::from_utf8(digits)?.parse()?;
    if n > MAX_LITERAL {
        bail!("a literal of {n} octets");
    }
    Ok(Some(n))
}

/// After a line that ends with a literal: reads the literal's octets and
/// the line that continues the response, as often as the response has
/// literals. `line` then holds the response's last line.
async fn skip_literals<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    reply: &mut Reply,
) -> anyhow::Result<()> {
    while let Some(n) = literal_size(line)? {
        let got = tokio::io::copy(&mut (&mut *r).take(n), &mut tokio::io::sink()).await?;
        if got != n {
            bail!("the server closed the connection inside a literal");
        }
        reply.literal_octets += n;
        reply.literals += 1;
        read_line(r, line).await?;
    }
    Ok(())
}

/// `TAG OK ...`; anything else is an error carrying the server's text.
fn check_ok(line: &[u8], tag: &str) -> anyhow::Result<()> {
    let rest = &line[tag.len()..];
    if rest.starts_with(b" OK") {
        Ok(())
    } else {
        bail!("{}", show(line))
    }
}

/// Reads untagged responses (and their literals) up to the tagged one.
async fn read_reply<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    tag: &str,
) -> anyhow::Result<Reply> {
    let mut reply = Reply::default();
    loop {
        read_line(r, line).await?;
        if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
            check_ok(line, tag)?;
            return Ok(reply);
        }
        if !line.starts_with(b"* ") {
            bail!("unexpected: {}", show(line));
        }
        if line.starts_with(b"* BYE") {
            bail!("{}", show(line));
        }
        let mut words = line[2..].splitn(3, |&b| b == b' ');
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        if let Ok(n) = std::str::from_utf8(first).unwrap_or("").parse::<u64>() {
            let kind = second.strip_suffix(b"\r\n").unwrap_or(second);
            if kind.eq_ignore_ascii_case(b"EXISTS") {
                reply.exists = Some(n);
            } else if second.eq_ignore_ascii_case(b"FETCH") {
                reply.fetches += 1;
            }
        }
        skip_literals(r, line, &mut reply).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn reply(wire: &[u8], tag: &str) -> anyhow::Result<Reply> {
        let mut r = BufReader::new(wire);
        read_reply(&mut r, &mut Vec::new(), tag).await
    }

    #[test]
    fn literal_sizes() {
        assert_eq!(
            literal_size(b"* 1 FETCH (BODY[] {123}\r\n").unwrap(),
            Some(123)
        );
        assert_eq!(literal_size(b"a {5+}\r\n").unwrap(), Some(5));
        assert_eq!(literal_size(b"* OK {x}\r\n").unwrap(), None);
        assert_eq!(literal_size(b"* OK done\r\n").unwrap(), None);
        assert!(literal_size(b"* {99999999999}\r\n").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }

    #[tokio::test]
    async fn fetches_literals_and_exists() {
        let wire = b"* 2 EXISTS\r\n* 1 FETCH (BODY[] {5}\r\nb0001 FLAGS ())\r\n\
* 2 FETCH (ENVELOPE (\"d\" {3}\r\nx\r\n NIL) RFC822.SIZE 3)\r\nb0001 OK done\r\n";
        let r = reply(wire, "b0001").await.unwrap();
        assert_eq!(r.fetches, 2);
        assert_eq!(r.literal_octets, 8);
        assert_eq!(r.literals, 2);
        assert_eq!(r.exists, Some(2));
    }

    #[tokio::test]
    async fn no_bad_bye_and_truncation_are_errors() {
        assert!(reply(b"b0001 NO [AUTHENTICATIONFAILED] no\r\n", "b0001")
            .await
            .is_err());
        assert!(reply(b"* BYE shutting down\r\n", "b0001").await.is_err());
        assert!(reply(b"* 1 FETCH (BODY[] {10}\r\nshort", "b0001")
            .await
            .is_err());
        assert!(reply(b"* 1 EXISTS\r\n", "b0001").await.is_err());
    }
}
