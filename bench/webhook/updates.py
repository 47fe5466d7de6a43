"""Posts Telegram updates to botd's webhook through nginx at RATE a second for DURATION seconds, each
with an update_id of its own, over CHATS chats, from WORKERS threads; prints the 200's latency.

  updates.py BASE SECRET RUN_ID RATE DURATION CHATS
"""
import json
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

base, secret, run_id, rate, duration, chats = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE
latencies, statuses = [], {}
lock = threading.Lock()
total = int(rate * duration)
start = time.monotonic()


def send(n):
    update_id = run_id * 100_000_000 + n
    chat = 1_000_000 + n % chats
    body = {"update_id": update_id, "message": {"message_id": n, "date": int(time.time()), "text": "hello",
                                                "chat": {"id": chat, "type": "private"},
                                                "from": {"id": chat, "is_bot": False, "first_name": "Bench"}}}
    request = urllib.request.Request(f"{base}/telegram/webhook", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, context=insecure, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    with lock:
        latencies.append(time.monotonic() - began)
        statuses[status] = statuses.get(status, 0) + 1


threads = []
for n in range(total):
    # Paced: update n leaves at start + n / rate, each on a thread of its own (a new connection, as
    # Telegram's deliveries come).
    delay = start + n / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    thread = threading.Thread(target=send, args=(n,))
    thread.start()
    threads.append(thread)
for thread in threads:
    thread.join()
latencies.sort()


def percentile(p):
    return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000


print(f"webhook: {total} updates at {rate:.0f}/s, answers {statuses}, the answer's latency p50 {percentile(50):.1f} ms, "
      f"p99 {percentile(99):.1f} ms, max {latencies[-1] * 1000:.1f} ms (a new TLS connection each)")
