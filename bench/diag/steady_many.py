"""Steady many-conversations load for bench/diag/steady-many (diagnosis, not a benchmark figure).

C conversations x 2 raw WebSocket readers, 16 producers posting batches of 10 events round-robin over the
conversations, for WARM + MEASURE seconds. Prints "open" once the sockets are up, then "window <requests> <seconds>"
for the MEASURE seconds that follow WARM (what the server's counters are averaged over), then a summary line.
Talks only to 127.0.0.1; every loop is bounded by the run's end time.
"""
import http.client
import json
import selectors
import socket
import sys
import threading
import time

port, conversations, warm, measure = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])


def post(connection, path, body):
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status not in (200, 201):
        raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
    return data


http_connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
ids = [json.loads(post(http_connection, "/api/conversations", "{}"))["id"] for _ in range(conversations)]

selector = selectors.DefaultSelector()
received = [0]
for i in range(conversations * 2):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall((f"GET /sockets/events/{ids[i % conversations]} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("socket closed during the upgrade")
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"upgrade refused: {head[:100]!r}")
    s.setblocking(False)
    selector.register(s, selectors.EVENT_READ)

start = time.time()
end = start + warm + measure
print("open", flush=True)


def drain():
    while time.time() < end + 2:
        for key, _ in selector.select(0.2):
            try:
                received[0] += len(key.fileobj.recv(65536))
            except (BlockingIOError, ConnectionResetError):
                pass


threading.Thread(target=drain, daemon=True).start()
pad = "x" * 96
lock = threading.Lock()
state = {"next": 0, "done": 0}


def produce():
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < end:
        with lock:
            j = state["next"]
            state["next"] += 1
        body = "[" + ",".join('{"kind":"BenchEvent","source":"agent","n":%d,"pad":"%s"}' % (j * 10 + i, pad) for i in range(10)) + "]"
        post(connection, f"/api/conversations/{ids[j % conversations]}/agent/events", body)
        with lock:
            state["done"] += 1


producers = [threading.Thread(target=produce) for _ in range(16)]
for p in producers:
    p.start()
time.sleep(max(0.0, start + warm - time.time()))  # the warm-up's length, not synchronisation
at_start, t0 = state["done"], time.time()
time.sleep(max(0.0, end - time.time()))
at_end, t1 = state["done"], time.time()
print(f"window {at_end - at_start} {t1 - t0:.3f}", flush=True)
for p in producers:
    p.join(60)
print(f"requests {state['done']} in {time.time() - start:.1f} s, {received[0]} bytes received", flush=True)
