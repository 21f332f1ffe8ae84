#!/usr/bin/python3
"""A stand-in for a node of a djs cluster, for test_client_servers.sh.

    fake_node.py PORT MODE TARGET LOG

MODE follower: every request is answered 307, Location TARGET + the
request's path and query, as a djs follower answers a write (TARGET: the
leader's base URL). MODE electing: 503 no-leader with Retry-After: 1, as
a follower during an election. MODE drop: no answer at all (the
connection is closed once the request is read: a node that died with the
request in hand). MODE sink: 200 {} (a node nobody should call). Each request is one line in LOG: METHOD PATH AUTH, AUTH "auth" when
an Authorization header came with it, else "-".
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, MODE, TARGET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, "auth" if self.headers.get("Authorization") else "-"))
        if MODE == "drop":
            self.close_connection = True
            return
        if MODE == "follower":
            status, slug, extra = 307, "not-leader", [("Location", TARGET + self.path)]
        elif MODE == "electing":
            status, slug, extra = 503, "no-leader", [("Retry-After", "1")]
        else:
            status, slug, extra = 200, None, []
        body = json.dumps({"type": "https://djs.dev/problems/" + slug, "title": "fake " + slug, "status": status}
                          if slug else {}).encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/problem+json" if slug else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
