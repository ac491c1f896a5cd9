#!/usr/bin/env python3
"""Writes the benchmark's messages: COUNT plain-text mails of about 10 KB,
made from a fixed seed so every run (and both servers) gets the same bytes.

Each message has ordinary headers, wrapped paragraphs, a quoted part, a
signature, and a few lines that start with '.' (one of them a lone '.'),
which a POP3 server must byte-stuff on RETR and a client must un-stuff.

Usage: make-messages.py COUNT OUTDIR
Writes OUTDIR/crlf/N.eml (CRLF line ends, for `postern deliver`) and
OUTDIR/lf/N.eml (LF, as a maildir holds them on disk).
"""
import os
import random
import sys

WORDS = (
    "the meeting on thursday has been moved to the small room next to the "
    "library please bring the figures for the third quarter and the draft "
    "of the report we discussed last week I have attached nothing because "
    "the server would not take it so here is the summary in plain text the "
    "budget is tight but not hopeless if we postpone the new printers and "
    "keep the old ones running until spring everyone agreed that the "
    "schedule is ambitious and that the testing phase needs two more weeks "
    "than planned let me know if you cannot come and I will send the notes "
    "afterwards thanks again for the quick answer and have a good weekend"
).split()

# Lines a POP3 server must stuff: RFC 1939 §3.
DOT_LINES = [".", "..", "...and so on, as before.", ".hidden file names start with a dot",
             ". (a sentence that starts with a stray dot)"]


def paragraph(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(40, 120))]
    words[0] = words[0].capitalize()
    lines, line = [], ""
    for w in words:
        if len(line) + len(w) + 1 > 72:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line + ".")
    return lines


def message(rng, n, target):
    head = [
        f"From: Sender {n % 17} <sender{n % 17}@example.org>",
        "To: Bench <bench@example.test>",
        f"Subject: Report {n}: {' '.join(rng.choice(WORDS) for _ in range(5))}",
        f"Date: Mon, {1 + n % 28:02d} Jan 2024 {n % 24:02d}:{n % 60:02d}:00 +0000",
        f"Message-ID: <bench-{n}@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Hello,",
        "",
    ]
    body = []
    dots = list(DOT_LINES)
    rng.shuffle(dots)
    size = sum(len(x) + 2 for x in head)
    while size < target - 400:
        para = paragraph(rng)
        if rng.random() < 0.3:
            para = ["> " + x for x in para]
        if dots and rng.random() < 0.5:
            para.append(dots.pop())
        para.append("")
        body.extend(para)
        size += sum(len(x) + 2 for x in para)
    body.extend(dots)  # every message has all of them
    body.extend(["", "-- ", f"Sender {n % 17}", "Example Organisation"])
    return head + body


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(1939)
    for kind in ("crlf", "lf"):
        os.makedirs(os.path.join(out, kind), exist_ok=True)
    for n in range(1, count + 1):
        lines = message(rng, n, rng.randint(9000, 11000))
        for kind, eol in (("crlf", "\r\n"), ("lf", "\n")):
            with open(os.path.join(out, kind, f"{n}.eml"), "w", newline="") as f:
                f.write(eol.join(lines) + eol)


if __name__ == "__main__":
    main()
