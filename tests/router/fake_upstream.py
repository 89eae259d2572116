#!/usr/bin/env python3
"""fake_upstream.py — a tiny OpenAI-compatible chat endpoint that plays "the cloud" in the router's tests.
Loopback only. Every request body it receives is appended to --log as one JSON line
{"mode": MODE, "auth": "Bearer ..."-present?, "body": <request JSON or raw text>}, so tests can prove what
left the machine.

The first path segment picks the behaviour (base_url http://127.0.0.1:PORT/MODE/v1):
  ok         streams "Hello from the cloud." in small chunks, then usage and [DONE]
  echo       streams back the last user message (3-byte chunks, so placeholders split across chunks)
  json       ignores "stream" and answers with one JSON body
  err500     HTTP 500 with an OpenAI-style error object
  errstream  HTTP 200, then an error object inside the stream
  slow       sleeps --slow seconds before answering (connect ok, no bytes: idle/total timeouts)
  stall      sends two chunks, then stalls for --slow seconds
  truncated  sends two chunks, then closes the connection without [DONE]
  malformed  sends a data: line that is not JSON
  auth       like ok, but 401 unless the Authorization header is "Bearer test-key-123"
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
ARGS = None


def chunk(text=None, finish=None, usage=None):
    o = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": "big-model",
         "choices": [] if usage else [{"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]}
    if usage:
        o["usage"] = usage
    return ("data: " + json.dumps(o) + "\n\n").encode()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_POST(self):
        mode = self.path.strip("/").split("/")[0]
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps({"mode": mode, "path": self.path, "auth": bool(self.headers.get("Authorization")), "body": body}) + "\n")
        msgs = body.get("messages", []) if isinstance(body, dict) else []
        last = next((m.get("content") for m in reversed(msgs) if m.get("role") == "user"), "") or ""
        if isinstance(last, list):
            last = "".join(p.get("text", "") for p in last if isinstance(p, dict))
        want_usage = isinstance(body, dict) and (body.get("stream_options") or {}).get("include_usage")
        try:
            self.answer(mode, last, want_usage)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def sse_start(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def answer(self, mode, last, want_usage):
        if mode == "slow":
            time.sleep(ARGS.slow)
        if mode == "err500":
            data = json.dumps({"error": {"message": "internal error (fake)", "type": "server_error"}}).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if mode == "auth" and self.headers.get("Authorization") != "Bearer test-key-123":
            data = b'{"error": {"message": "invalid api key", "type": "auth"}}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        text = "ECHO: " + last if mode == "echo" else "Hello from the cloud."
        if mode == "json":
            data = json.dumps({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                               "finish_reason": "stop"}], "usage": {"prompt_tokens": 11, "completion_tokens": 5}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.sse_start()
        step = 3 if mode == "echo" else 5
        pieces = [text[i:i + step] for i in range(0, len(text), step)]
        if mode in ("stall", "truncated", "malformed", "errstream"):
            for p in pieces[:2]:
                self.wfile.write(chunk(p))
                self.wfile.flush()
            if mode == "stall":
                time.sleep(ARGS.slow)
            elif mode == "malformed":
                self.wfile.write(b"data: {this is not json\n\n")
            elif mode == "errstream":
                self.wfile.write(b'data: {"error": {"message": "overloaded (fake)"}}\n\n')
            self.wfile.flush()
            return  # no [DONE]: the connection closes
        for p in pieces:
            self.wfile.write(chunk(p))
            self.wfile.flush()
        self.wfile.write(chunk(finish="stop"))
        if want_usage:
            self.wfile.write(chunk(usage={"prompt_tokens": 17, "completion_tokens": len(pieces)}))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--slow", type=float, default=4.0)
    ap.add_argument("--lifetime", type=float, default=300.0, help="exit after this many seconds (tests stay bounded)")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, ARGS.port_file)
    threading.Timer(ARGS.lifetime, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
