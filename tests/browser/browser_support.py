"""What the browser suites (webmail.py, web_calendar.py, invite.py) share:
the check for Chromium, Node.js and tests/browser/node_modules, the built
`postern` binary started with the suite's accounts (smtp_support.Postern),
and one run of a suite's Node script (see browser.mjs) through a list of
steps, with its screenshots in the artifacts folder.

Without Chromium, Node.js or tests/browser/node_modules a suite is
skipped, except under CI=true, where it fails. Screenshots of every step
go to target/browser-artifacts/ (BROWSER_ARTIFACTS overrides);
POSTERN_BIN overrides the binary (read by smtp_support), CHROMIUM the
browser.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
from smtp_support import DOMAIN, PASSWORD, Postern  # noqa: E402, F401 (DOMAIN: for the suites)

# The dev ports `init --dev-ports` writes (see crates/config's template).
DEV_HTTPS, DEV_IMAPS = 8443, 2993
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.environ.get("BROWSER_ARTIFACTS", os.path.join(ROOT, "target", "browser-artifacts"))


def missing_tools():
    """What the browser tests need and this machine lacks."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs)")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        missing.append("tests/browser/node_modules (npm ci --prefix tests/browser)")
    return missing


class BrowserSuite:
    """Mixed into a suite's unittest.TestCase (not one itself, so that
    unittest finds no tests here). The suite sets:

    script: its Node script in tests/browser; password_env: the variable
    that hands the script the password; users: the accounts made before
    the server starts; services: the dev ports it waits for.

    The server's HTTPS and IMAPS ports are `cls.https` and `cls.imaps`.
    """

    script = None
    password_env = "WEBMAIL_PASSWORD"
    users = ()
    services = (DEV_HTTPS,)

    @classmethod
    def setUpClass(cls):
        missing = missing_tools()
        if missing:
            if os.environ.get("CI") == "true":
                raise AssertionError("browser tests need, under CI=true: " + ", ".join(missing))
            raise unittest.SkipTest("browser tests need: " + ", ".join(missing))
        cls.server = Postern(users=cls.users)
        cls.https = cls.server.ports[DEV_HTTPS]
        cls.imaps = cls.server.ports[DEV_IMAPS]
        for port in cls.services:
            cls.server.wait_for(cls.server.ports[port])
        os.makedirs(ARTIFACTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def method_name(self):
        """The running test's method name, for the screenshots."""
        return self.id().rsplit(".", 1)[-1]

    def run_browser(self, user, name, steps, options=()):
        """The suite's script logged in as `user`, then through `steps`;
        `name` prefixes its screenshots, `options` are the script's own.
        A failed run fails the test with the script's output and the end
        of the server's log."""
        cmd = [
            "node", os.path.join(HERE, self.script),
            "--url", f"https://localhost:{self.https}",
            "--user", user,
            "--ca", self.server.ca,
            *options,
            "--artifacts", ARTIFACTS,
            "--name", name,
            json.dumps({"do": "login"}),
            *(json.dumps(s) for s in steps),
        ]
        env = dict(os.environ, CHROMIUM=CHROMIUM, **{self.password_env: PASSWORD})
        result = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            self.fail(
                f"browser run failed (exit {result.returncode}); screenshots in {ARTIFACTS}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nserver log (end):\n"
                f"{self.server.log_text()[-3000:]}"
            )

    def eventually(self, check, what, timeout=15):
        """`check()` again every 0.2 s until it is true, for at most
        `timeout` seconds (mail is delivered in the background)."""
        deadline = time.time() + timeout
        while True:
            result = check()
            if result or time.time() > deadline:
                self.assertTrue(result, what)
                return result
            time.sleep(0.2)
