#!/usr/bin/env python3
"""The HTTPS web interface with Python's own HTTP stack (urllib, http.client,
ssl, xml.etree) against the built `postern` binary: login and its cookie,
the security headers, autoconfig and autodiscover parsed by a real XML
parser, the MTA-STS policy.

Locally:
    cargo build && python3 tests/interop/web_clients.py
POSTERN_BIN overrides the binary (default target/debug/postern).
"""
import http.client
import os
import re
import sys
import unittest
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_support import DOMAIN, PASSWORD, Postern  # noqa: E402

USER = f"alice@{DOMAIN}"
DEV_HTTPS, DEV_IMAPS, DEV_POP3S, DEV_SUBMISSION, DEV_SUBMISSIONS = 8443, 2993, 2995, 2587, 2465
AUTODISCOVER_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class WebClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Postern(users=[USER])
        cls.https = cls.server.ports[DEV_HTTPS]
        cls.server.wait_for(cls.https)
        cls.base = f"https://localhost:{cls.https}"
        cls.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=cls.server.context()), NoRedirect()
        )
        cls.tls_ports = {cls.server.ports[p] for p in (DEV_IMAPS, DEV_POP3S, DEV_SUBMISSION, DEV_SUBMISSIONS)}

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def fetch(self, path, data=None, headers=None):
        """(status, headers, body) of one request; 3xx and 4xx included."""
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=20) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def login_page(self):
        status, headers, body = self.fetch("/login")
        self.assertEqual(status, 200, body)
        token = re.search(rb'name="csrf" value="([0-9a-f]{64})"', body).group(1).decode()
        cookie = headers["Set-Cookie"].split(";")[0]
        return token, cookie

    def post_login(self, password, token, cookie):
        form = urllib.parse.urlencode({"user": USER, "password": password, "csrf": token}).encode()
        return self.fetch("/login", data=form, headers={
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        })

    def test_login_sets_a_locked_down_session_cookie(self):
        token, cookie = self.login_page()
        status, headers, body = self.post_login(PASSWORD, token, cookie)
        self.assertEqual(status, 303, body)
        self.assertEqual(headers["Location"], "/mail")
        session = [c for c in headers.get_all("Set-Cookie") if c.startswith("__Host-postern=")]
        self.assertEqual(len(session), 1, headers)
        flags = [f.strip() for f in session[0].split(";")]
        for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(flag, flags)
        status, headers, body = self.fetch("/mail", headers={"Cookie": session[0].split(";")[0]})
        self.assertEqual(status, 200, body)
        self.assertIn(USER.encode(), body)
        self.assertIn(b"INBOX", body)
        self.assertEqual(headers["Cache-Control"], "no-store")

    def test_a_wrong_password_gets_the_login_page_again(self):
        token, cookie = self.login_page()
        status, headers, body = self.post_login("not the password", token, cookie)
        self.assertEqual(status, 200)
        self.assertIn(b"Wrong e-mail address or password.", body)
        self.assertFalse(any(c.startswith("__Host-postern=") for c in headers.get_all("Set-Cookie") or []))

    def test_security_headers(self):
        status, headers, _ = self.fetch("/login")
        self.assertEqual(status, 200)
        self.assertRegex(headers["Strict-Transport-Security"], r"max-age=(\d{8,})")
        self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")

    def test_autoconfig_parses_and_names_only_tls_ports(self):
        for path in ("/.well-known/autoconfig/mail/config-v1.1.xml",
                     f"/mail/config-v1.1.xml?emailaddress={urllib.parse.quote(USER)}"):
            status, headers, body = self.fetch(path)
            self.assertEqual(status, 200, path)
            root = ET.fromstring(body)
            self.assertEqual(root.tag, "clientConfig")
            servers = root.findall("./emailProvider/incomingServer") + root.findall("./emailProvider/outgoingServer")
            self.assertEqual(len(servers), 4)
            for s in servers:
                self.assertEqual(s.findtext("hostname"), "localhost")
                self.assertIn(int(s.findtext("port")), self.tls_ports)
                self.assertIn(s.findtext("socketType"), ("SSL", "STARTTLS"))

    def test_autodiscover_parses_and_echoes_the_address(self):
        request = (
            '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
            'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
            f"{USER}</EMailAddress></Request></Autodiscover>"
        ).encode()
        status, _, body = self.fetch("/autodiscover/autodiscover.xml", data=request,
                                     headers={"Content-Type": "text/xml"})
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        protocols = root.findall(f".//{AUTODISCOVER_NS}Protocol")
        self.assertEqual(len(protocols), 4)
        for p in protocols:
            self.assertEqual(p.findtext(f"{AUTODISCOVER_NS}Server"), "localhost")
            self.assertEqual(p.findtext(f"{AUTODISCOVER_NS}LoginName"), USER)
            self.assertIn(int(p.findtext(f"{AUTODISCOVER_NS}Port")), self.tls_ports)

    def test_mta_sts_policy(self):
        conn = http.client.HTTPSConnection("localhost", self.https, context=self.server.context(), timeout=20)
        try:
            conn.request("GET", "/.well-known/mta-sts.txt", headers={"Host": f"mta-sts.{DOMAIN}"})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Type"), "text/plain")
            self.assertEqual(body, b"version: STSv1\r\nmode: enforce\r\nmx: localhost\r\nmax_age: 604800\r\n")
            conn.request("GET", "/.well-known/mta-sts.txt", headers={"Host": "mta-sts.elsewhere.example"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 404)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
