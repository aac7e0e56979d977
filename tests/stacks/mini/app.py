"""A tiny service for chaosgate's own tests: `echo` answers (and burns CPU on request); `front` calls echo
and the broker."""

import http.server
import os
import socket
import sys
import time
import urllib.parse
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real services: a hang then really hangs
    def do_GET(self):
        if self.path == "/healthz":
            if os.environ.get("NEVER_HEALTHY"):
                return self._send(503, b"never\n")
            return self._send(200, b"ok\n")
        if self.path == "/hello":
            return self._send(200, b"hello from " + os.environ["CHAOSGATE_SERVICE"].encode() + b"\n")
        if self.path == "/via-echo":
            try:
                with urllib.request.urlopen(f"http://{os.environ['ECHO_ADDR']}/hello", timeout=echo_timeout()) as r:
                    return self._send(200, r.read())
            except OSError as exc:
                return self._send(502, f"echo unreachable: {exc}\n".encode())
        if self.path == "/broker":
            host, port = os.environ["BROKER_ADDR"].split(":")
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(b"AMQP\x00\x00\x09\x01")
                return self._send(200, s.recv(8)[:4])
        if self.path.startswith("/burn"):
            # A busy loop of `ms` wall milliseconds; answers the CPU seconds it got (a CPU fault's probe).
            ms = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("ms", ["1000"])[0])
            cpu0, end = time.thread_time(), time.monotonic() + ms / 1000
            while time.monotonic() < end:
                pass
            return self._send(200, f"{time.thread_time() - cpu0:.4f}\n".encode())
        return self._send(404, b"no\n")

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def echo_timeout() -> float | None:
    """How long front waits for echo: ECHO_TIMEOUT_S seconds (default 5); 'none' waits for ever, the
    unbounded call a matrix must find."""
    text = os.environ.get("ECHO_TIMEOUT_S") or "5"
    return None if text == "none" else float(text)


def heartbeat(every_s: float) -> None:
    """Call echo through the link for ever, as a busy caller does (with a 1 s timeout): traffic that
    shows a link fault landed, without a load generator."""
    while True:
        try:
            with urllib.request.urlopen(f"http://{os.environ['ECHO_ADDR']}/hello", timeout=1) as r:
                r.read()
        except OSError:
            pass
        time.sleep(every_s)


if __name__ == "__main__":
    if os.environ.get("HEARTBEAT_S") and os.environ.get("ECHO_ADDR"):
        import threading

        threading.Thread(target=heartbeat, args=(float(os.environ["HEARTBEAT_S"]),), daemon=True).start()
    if os.environ.get("CLOSE_AFTER_ANSWER"):
        Handler.protocol_version = "HTTP/1.0"  # answers, then closes: what a hang on one stream cannot hold
    if os.environ.get("CRASH_AT_START"):
        print("crashing as asked", flush=True)
        sys.exit(4)
    server = http.server.ThreadingHTTPServer((os.environ.get("BIND_HOST", "127.0.0.1"), int(os.environ["PORT"])), Handler)
    print("listening on", server.server_address, flush=True)
    server.serve_forever()
