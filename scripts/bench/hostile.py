#!/usr/bin/env python3
"""Memory of `evni serve` under hostile bodies: 256 MiB of tiny sessions sent
to POST /v1/sessions/batch and POST /v1/models/uploads, one at a time and
three at once. Not a test: it prints the rise of the server's resident memory
(sampled every 10 ms) over its idle level for each case, and the answers.

  scripts/bench/hostile.py            # builds target/release/evni if needed
  EVNI_BIN=target/debug/evni scripts/bench/hostile.py
  SIZE_MIB=256 scripts/bench/hostile.py
"""

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = int(os.environ.get("SIZE_MIB", "256")) * 1024 * 1024
TINY = b'{"session_id":"s%08d","charging_station_id":"ST-1","meter_values":[]}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def chunks(kind):
    """The body in 1 MiB pieces, exactly SIZE bytes."""
    head, sep, tail = (b'{"sessions":[', b",", b"]}") if kind == "batch" else (b"", b"\n", b"")
    sent, i, piece = 0, 0, bytearray(head)
    while True:
        item = (TINY % i) + sep
        if sent + len(piece) + len(item) + len(tail) > SIZE:
            piece += tail + b" " * (SIZE - sent - len(piece) - len(tail))
            yield bytes(piece)
            return
        piece += item
        i += 1
        if len(piece) >= 1 << 20:
            sent += len(piece)
            yield bytes(piece)
            piece = bytearray()


def send(port, token, kind, answers):
    path, content_type = (
        ("/v1/sessions/batch", "application/json")
        if kind == "batch"
        else ("/v1/models/uploads", "application/x-ndjson")
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(SIZE))
        conn.endheaders()
        for piece in chunks(kind):
            conn.send(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered before the body ended
    try:
        response = conn.getresponse()
        answers.append(f"{response.status} {response.read()[:120].decode(errors='replace')}")
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        answers.append(f"no answer: {e}")


def measure(pid, port, token, kind, at_once):
    idle = rss_kib(pid)
    peak, answers, done = idle, [], threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    senders = [threading.Thread(target=send, args=(port, token, kind, answers)) for _ in range(at_once)]
    started = time.time()
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    done.set()
    sampler.join()
    print(
        f"{kind:7} x{at_once}: RSS +{(peak - idle) / 1024:6.1f} MiB over idle {idle / 1024:.1f} MiB "
        f"in {time.time() - started:5.1f} s; answers: {sorted(set(a[:60] for a in answers))}"
    )


def main():
    binary = os.environ.get("EVNI_BIN", os.path.join(ROOT, "target/release/evni"))
    if "EVNI_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "evni"], cwd=ROOT, check=True)
    data = tempfile.mkdtemp(prefix="evni-hostile-")
    port = free_port()
    env = dict(os.environ, EVNI_DATA_DIR=data, EVNI_LISTEN=f"127.0.0.1:{port}", EVNI_LOG="warn")
    env.pop("EVNI_DATABASE_URL", None)
    token = subprocess.run(
        [binary, "tenant", "create", "acme"], env=env, check=True, capture_output=True, text=True
    ).stdout.splitlines()[-1]
    server = subprocess.Popen([binary, "serve"], env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"{binary}, bodies of {SIZE >> 20} MiB")
        for kind in ("batch", "upload"):
            for at_once in (1, 3):
                measure(server.pid, port, token, kind, at_once)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
