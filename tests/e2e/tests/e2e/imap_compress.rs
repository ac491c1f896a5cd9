//! COMPRESS=DEFLATE (RFC 4978) over real TLS, with a client-side deflate
//! written here on flate2 directly (not the server's stream adapter, so
//! a mistake there cannot hide in both ends).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, Duration};

use super::{any, cmd, has, imaps, login, with_mail, Client};

/// One direction of RFC 4978 §4's raw deflate (no zlib header), each
/// write flushed with a sync flush so the server can read it at once.
struct Deflater(Compress);

impl Deflater {
    fn new() -> Self {
        Self(Compress::new(Compression::default(), false))
    }

    fn deflate(&mut self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 64);
        self.0
            .compress_vec(text, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    }
}

/// Reads and inflates until the plain text holds `until` on a line
/// start, or the server closes.
async fn inflate_until(c: &mut Client, inflate: &mut Decompress, until: &str) -> String {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let plain = String::from_utf8_lossy(&text).into_owned();
        if plain.starts_with(until) || plain.contains(&format!("\r\n{until}")) {
            return plain;
        }
        let n = timeout(Duration::from_secs(10), c.get_mut().read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {until:?} within 10 s; so far: {plain:?}"))
            .unwrap();
        if n == 0 {
            return plain;
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let mut out = Vec::with_capacity(64 * 1024);
            let before = inflate.total_in();
            inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .unwrap();
            let used = (inflate.total_in() - before) as usize;
            text.extend_from_slice(&out);
            input = &input[used..];
            if used == 0 && out.is_empty() {
                break;
            }
        }
    }
}

/// RFC 4978 §3: COMPRESS is offered after TLS and login, answered OK in
/// clear, then both directions are deflated; a second COMPRESS is `NO
/// [COMPRESSIONACTIVE]`. Before login it is not offered.
#[tokio::test]
async fn rfc4978_3_deflate_both_ways() {
    let srv = with_mail().await;
    let mut pre = imaps(&srv).await;
    let caps = cmd(&mut pre, "a CAPABILITY").await;
    assert!(!has(&caps, "COMPRESS"), "not before login: {caps:?}");

    let mut c = login(&srv).await;
    let caps = cmd(&mut c, "a CAPABILITY").await;
    assert!(has(&caps, " COMPRESS=DEFLATE "), "{caps:?}");
    let ok = any(&mut c, "z COMPRESS DEFLATE").await;
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert!(ok[0].starts_with("z OK"), "{ok:?}");

    let (mut out, mut inflate) = (Deflater::new(), Decompress::new(false));
    let wire = out.deflate(b"c1 SELECT INBOX\r\nc2 FETCH 1 BODY.PEEK[]\r\n");
    c.get_mut().write_all(&wire).await.unwrap();
    let text = inflate_until(&mut c, &mut inflate, "c2 ").await;
    assert!(text.contains("c1 OK [READ-WRITE]"), "{text:?}");
    assert!(
        text.contains("first body"),
        "the message, inflated: {text:?}"
    );
    assert!(text.contains("c2 OK"), "{text:?}");

    let wire = out.deflate(b"c3 COMPRESS DEFLATE\r\n");
    c.get_mut().write_all(&wire).await.unwrap();
    let text = inflate_until(&mut c, &mut inflate, "c3 ").await;
    assert!(
        text.contains("c3 NO [COMPRESSIONACTIVE]"),
        "a second COMPRESS: {text:?}"
    );

    let wire = out.deflate(b"c4 LOGOUT\r\n");
    c.get_mut().write_all(&wire).await.unwrap();
    let text = inflate_until(&mut c, &mut inflate, "c4 ").await;
    assert!(text.contains("* BYE"), "{text:?}");
    assert!(text.contains("c4 OK"), "{text:?}");
}

/// RFC 4978 §3: the client waits for the OK before compressing. Bytes
/// sent with the command would be read as the wrong thing, so the
/// server sends its OK and closes; it keeps serving others.
#[tokio::test]
async fn rfc4978_3_pipelining_past_compress_closes() {
    let srv = with_mail().await;
    let mut c = login(&srv).await;
    c.send_raw(b"z COMPRESS DEFLATE\r\ny NOOP\r\n").await;
    c.expect("z OK").await;
    c.expect_closed().await;

    let mut next = login(&srv).await;
    cmd(&mut next, "n NOOP").await;
}
