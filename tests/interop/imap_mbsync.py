#!/usr/bin/env python3
"""A real synchronizer against the built `postern` binary: mbsync (isync)
syncs a Maildir with the server both ways over IMAPS, with flags,
folders, new mail on either side and expunges.

Locally:
    cargo build && python3 tests/interop/imap_mbsync.py
POSTERN_BIN overrides the binary (default target/debug/postern). Skipped
without mbsync (Debian package isync), except under CI=true.
"""
import glob
import imaplib
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imap_clients  # noqa: E402
from imap_clients import MESSAGE, PASSWORD, USER  # noqa: E402


class Mbsync(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mbsync = shutil.which("mbsync")
        if cls.mbsync is None:
            if os.environ.get("CI") == "true":
                raise AssertionError("mbsync (isync) is required under CI=true")
            raise unittest.SkipTest("mbsync not installed")
        imap_clients.ImapClients.setUpClass.__func__(cls)
        cls.maildir = os.path.join(cls.dir, "maildir")
        os.makedirs(cls.maildir)
        cls.rc = os.path.join(cls.dir, "mbsyncrc")
        with open(cls.rc, "w") as rc:
            rc.write(f"""IMAPAccount postern
Host localhost
Port {cls.imaps}
User {USER}
Pass "{PASSWORD}"
SSLType IMAPS
CertificateFile {cls.ca}

IMAPStore remote
Account postern

MaildirStore local
Path {cls.maildir}/
Inbox {cls.maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""")

    @classmethod
    def tearDownClass(cls):
        imap_clients.ImapClients.tearDownClass.__func__(cls)

    def sync(self):
        out = subprocess.run(
            [self.mbsync, "-c", self.rc, "-a"], capture_output=True, timeout=120
        )
        self.assertEqual(out.returncode, 0, out.stdout.decode() + out.stderr.decode())

    def session(self):
        m = imaplib.IMAP4_SSL("localhost", self.imaps, ssl_context=self.server.context(), timeout=10)
        m.login(USER, PASSWORD)
        return m

    def local(self, folder):
        return sorted(glob.glob(os.path.join(self.maildir, folder, "cur", "*"))
                      + glob.glob(os.path.join(self.maildir, folder, "new", "*")))

    def test_both_ways(self):
        # Down: INBOX and the special folders arrive.
        self.sync()
        self.assertEqual(len(self.local("INBOX")), 3)
        for folder in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
            self.assertTrue(os.path.isdir(os.path.join(self.maildir, folder)), folder)

        # Up: a flag set locally, a message deleted locally, a new folder
        # with a message.
        first, second = self.local("INBOX")[:2]
        cur = os.path.join(self.maildir, "INBOX", "cur")
        base = os.path.basename(first).split(":2,")[0]
        os.rename(first, os.path.join(cur, base + ":2,FS"))
        base = os.path.basename(second).split(":2,")[0]
        os.rename(second, os.path.join(cur, base + ":2,ST"))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.maildir, "Projects", sub), exist_ok=True)
        with open(os.path.join(self.maildir, "Projects", "new", "1.local"), "wb") as f:
            f.write(MESSAGE.replace(b"interop", b"from the laptop"))
        self.sync()
        m = self.session()
        m.select("INBOX")
        typ, data = m.search(None, "ALL")
        self.assertEqual(len(data[0].split()), 2, "the deleted message was expunged")
        typ, data = m.search(None, "FLAGGED SEEN")
        self.assertEqual(len(data[0].split()), 1)
        typ, data = m.select("Projects")
        self.assertEqual(data, [b"1"])
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertIn(b"from the laptop", data[0][1])

        # Down again: a flag set and mail appended on the server.
        m.select("INBOX")
        m.store("2", "+FLAGS", "(\\Answered)")
        m.append("INBOX", None, None, MESSAGE.replace(b"interop", b"late news"))
        m.logout()
        self.sync()
        files = self.local("INBOX")
        self.assertEqual(len(files), 3)
        self.assertTrue(any(":2," in f and "R" in f.split(":2,")[1] for f in files), files)
        self.sync()  # a second sync finds nothing to do and keeps everything


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed or not result.testsRun else 0)
