"""Conversations created back to back for bench/diag/create-conversations (diagnosis, not a benchmark figure).

8 clients POST /api/conversations for WARM + MEASURE seconds; prints "open" at the start, then
"window <created> <seconds>" for the MEASURE seconds after WARM. Talks only to 127.0.0.1; loops end at the run's end.
"""
import http.client
import sys
import threading
import time

port, warm, measure = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
lock = threading.Lock()
created = [0]
start = time.time()
end = start + warm + measure


def create():
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < end:
        connection.request("POST", "/api/conversations", "{}", {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"create: {response.status} {body[:200]!r}")
        with lock:
            created[0] += 1


clients = [threading.Thread(target=create) for _ in range(8)]
for c in clients:
    c.start()
print("open", flush=True)
time.sleep(warm)  # the warm-up's length, not synchronisation
at_start, t0 = created[0], time.time()
time.sleep(max(0.0, end - time.time()))
at_end, t1 = created[0], time.time()
print(f"window {at_end - at_start} {t1 - t0:.3f}", flush=True)
for c in clients:
    c.join(60)
