#!/usr/bin/env python3
"""Enforces the crate dependency rules of ARCHITECTURE.md.

The sans-I/O protocol cores, the shared types and the configuration must
never reach tokio, rustls or a socket, directly or through another crate;
the TLS crate must never see the store. Reads `cargo metadata`, so it needs
no extra tool, and fails with the offending path.
"""
import json
import subprocess
import sys

# crate -> packages that must not appear anywhere in its normal dependency tree
FORBIDDEN = {
    "postern-types": {"tokio", "rustls", "postern-config", "postern-tls", "postern-server"},
    "postern-config": {"tokio", "rustls", "postern-tls", "postern-server"},
    "postern-smtp-proto": {"tokio", "rustls", "mio", "socket2", "postern-tls", "postern-server", "postern-config"},
    "postern-imap-proto": {"tokio", "rustls", "mio", "socket2", "postern-tls", "postern-server", "postern-config"},
    "postern-pop3-proto": {"tokio", "rustls", "mio", "socket2", "postern-tls", "postern-server", "postern-config"},
    "postern-proto-testkit": {"tokio", "rustls", "mio", "socket2", "postern-tls", "postern-server", "postern-config"},
    "postern-tls": {"postern-server", "postern-smtp-proto", "postern-imap-proto", "postern-pop3-proto"},
    "postern-store": {"postern-server", "postern-tls", "postern-smtp-proto", "postern-imap-proto", "postern-pop3-proto", "postern-auth", "rustls"},
    "postern-auth": {"postern-server", "postern-tls", "postern-smtp-proto", "postern-imap-proto", "postern-pop3-proto", "rustls"},
    "postern-outbound": {"postern", "postern-server", "postern-config", "postern-smtp-proto", "postern-imap-proto", "postern-pop3-proto", "postern-auth"},
    "postern-web": {"postern", "postern-server", "postern-smtp-proto", "postern-imap-proto", "postern-pop3-proto", "postern-tls", "rustls"},
    "postern-dav": {"tokio", "rustls", "mio", "socket2", "postern-store", "postern-server", "postern-web", "axum", "postern-tls", "postern-config"},
    # The ACME client issues certificates; it never reaches the mail, the
    # accounts or the web application.
    "postern-acme": {"postern", "postern-server", "postern-store", "postern-web", "postern-auth", "postern-outbound"},
    "postern-server": {"postern"},
}
# workspace crates each crate may name directly
ALLOWED_WORKSPACE_DEPS = {
    "postern-types": set(),
    "postern-config": {"postern-types"},
    "postern-smtp-proto": {"postern-types"},
    "postern-imap-proto": {"postern-types"},
    "postern-pop3-proto": {"postern-types"},
    "postern-proto-testkit": {"postern-types"},
    "postern-tls": {"postern-types", "postern-config"},
    "postern-store": {"postern-types"},
    "postern-auth": {"postern-types", "postern-store"},
    "postern-outbound": {"postern-types", "postern-store", "postern-tls"},
    "postern-web": {"postern-types", "postern-store", "postern-auth", "postern-message", "postern-config", "postern-dav"},
    "postern-dav": {"postern-types"},
    # The renewal reads the [[acme]] sections and the listeners they need.
    "postern-acme": {"postern-tls", "postern-config", "postern-types"},
}


def main() -> int:
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1"]))
    names = {p["id"]: p["name"] for p in meta["packages"]}
    members = {names[m] for m in meta["workspace_members"]}
    graph = {}
    for node in meta["resolve"]["nodes"]:
        deps = [d["pkg"] for d in node["deps"]
                if any(k["kind"] is None for k in d["dep_kinds"])]
        graph[node["id"]] = deps
    ids = {names[i]: i for i in graph if names[i] in members}
    failures = []
    for crate, banned in FORBIDDEN.items():
        # breadth-first with parent links, to print the offending path
        start = ids[crate]
        parent = {start: None}
        queue = [start]
        while queue:
            cur = queue.pop(0)
            for dep in graph.get(cur, []):
                if dep not in parent:
                    parent[dep] = cur
                    queue.append(dep)
        for pkg, par in parent.items():
            if names[pkg] in banned:
                path, p = [], pkg
                while p is not None:
                    path.append(names[p])
                    p = parent[p]
                failures.append(f"{crate} must not depend on {names[pkg]}: " + " -> ".join(reversed(path)))
    for crate, allowed in ALLOWED_WORKSPACE_DEPS.items():
        direct = {names[d] for d in graph[ids[crate]] if names[d] in members}
        for extra in sorted(direct - allowed):
            failures.append(f"{crate} may not depend on the workspace crate {extra}")
    for f in failures:
        print("dependency rule broken:", f, file=sys.stderr)
    if not failures:
        print(f"dependency rules hold for {len(FORBIDDEN)} crates")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
