"""The load side of bench/run-event-streams: holds COUNT event streams open through nginx (one user
each; server-sent events, or WebSockets with TRANSPORT=websocket), reports when they are all open, then publishes RATE user events a second for
SECONDS on RabbitMQ's `events` exchange to random ones of those users, and prints what each stream
received: how many, how many twice, and the publish-to-client latency.

  client.py HOST PORT AMQP_URL COUNT RATE SECONDS READY_FILE GO_FILE [sse|websocket]
"""
import asyncio
import base64
import json
import os
import random
import resource
import sys
import threading
import time
import uuid

import pika

host, port, amqp_url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, rate, seconds = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
ready_file, go_file = sys.argv[7], sys.argv[8]
transport = sys.argv[9] if len(sys.argv) > 9 else "sse"

hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
users = [str(uuid.uuid4()) for _ in range(count)]
latencies = []
received = {}
failed = []


def record(event_id, sent):
    latencies.append(time.time() - float(sent))
    received[event_id] = received.get(event_id, 0) + 1


async def stream(user):
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 16)
        upgrade = ""
        if transport == "websocket":
            key = base64.b64encode(os.urandom(16)).decode()
            upgrade = f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        writer.write(f"GET /api/events?user={user}&session={uuid.uuid4()} HTTP/1.1\r\nHost: bench\r\n{upgrade}\r\n".encode())
        await writer.drain()
        status = (await reader.readline()).split()[1]
        if status != (b"101" if upgrade else b"200"):
            failed.append(status.decode())
            return
        while (await reader.readline()).strip():
            pass
        opened.append(user)
        while transport == "websocket":
            first, second = await reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await reader.readexactly(8), "big")
            payload = await reader.readexactly(length)
            if first & 0x0F == 8:
                return
            if first & 0x0F == 1 and b'"sent"' in payload:
                message = json.loads(payload)
                record(message["data"]["id"], message["data"]["data"]["sent"])
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: {") and b'"sent"' in line:
                data = json.loads(line[6:])
                record(data["id"], data["data"]["sent"])
    except (OSError, IndexError, asyncio.IncompleteReadError) as error:
        failed.append(type(error).__name__)


def publish(published):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            user = random.choice(users)
            event_id = str(uuid.uuid4())
            body = json.dumps({"data": {"sent": f"{time.time():.6f}"}, "id": event_id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "type": "generation.progress", "user_id": user})
            channel.basic_publish("events", f"user.{user}", body.encode(),
                                  pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=event_id))
            published.append(event_id)
            sent += 1
        time.sleep(0.002)
    connection.close()


opened = []


async def main():
    tasks = []
    for index, user in enumerate(users):
        tasks.append(asyncio.create_task(stream(user)))
        if index % 200 == 199:
            await asyncio.sleep(0.05)
    while len(opened) + len(failed) < count:
        await asyncio.sleep(0.2)
    print(f"opened={len(opened)} refused={len(failed)} {sorted(set(failed))[:5]}", flush=True)
    open(ready_file, "w").close()
    while not __import__("os").path.exists(go_file):
        await asyncio.sleep(0.2)
    published = []
    publisher = threading.Thread(target=publish, args=(published,))
    publisher.start()
    while publisher.is_alive():
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)
    latencies.sort()

    def at(share):
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000 if latencies else float("nan")

    twice = sum(1 for n in received.values() if n > 1)
    missing = len(set(published) - set(received))
    print(f"published={len(published)} received={len(received)} twice={twice} missing={missing} "
          f"p50_ms={at(0.5):.1f} p99_ms={at(0.99):.1f} max_ms={at(1.0):.1f}", flush=True)
    for task in tasks:
        task.cancel()


asyncio.run(main())
