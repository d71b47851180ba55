#!/usr/bin/env python3
"""A server from a newer release, for the sync tests: it answers the
handshake as vsurvey-server does, and every batch of surveys with an outcome
that this release of the client does not know (--outcome, default
"quarantined"), one result per survey sent.

Prints "listening <port>" on its first line.
"""

import argparse
import gzip
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--outcome", default="quarantined")
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/api/v1/handshake"):
            self.reply({"service": "vsurvey-server", "api_version": 1, "server_version": "9.0.0", "max_batch": 500,
                        "max_body_bytes": 8388608, "max_decoded_bytes": 33554432, "gzip": True})
        elif self.path.startswith("/api/v1/forms"):
            self.reply({"forms": []})
        elif self.path.startswith("/api/v1/units"):
            # Nothing new in the registry.
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        surveys = json.loads(body)["surveys"]
        results = [{"index": i, "instance_id": s.get("instance_id"), "revision": s.get("revision"), "outcome": args.outcome,
                    "reason": "kept aside for a check this client does not know"} for i, s in enumerate(surveys)]
        self.reply({"summary": {args.outcome: len(results), "total": len(results)}, "results": results})

    def log_message(self, *arguments):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
