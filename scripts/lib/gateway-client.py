"""Clients for scripts/gateway-test that curl and wrk cannot be, over TLS to nginx (certificate not
checked: the stack's is a development one).

  websocket HOST PORT PATH TOKEN MESSAGE
      handshake, one text message and a close; prints the status, whether Sec-WebSocket-Accept
      was right, and the reply
  events-ws HOST PORT PATH TOKEN COUNT
      opens a WebSocket on PATH; prints the status, then each text message until COUNT events that
      are not `start` or `heartbeat` came (with COUNT 0, the first message), or 5 s passed; closes
  sse HOST PORT PATH TOKEN
      reads an event stream to its end; prints each event's data and the seconds between the
      first and the last event's arrival (0 if nginx buffered the stream)
  generate-stream HOST PORT PATH TOKEN BODY
      POSTs BODY (JSON) and reads the server-sent events it answers; prints the status and type,
      the events' names in order, the engine the done event names, the seconds from the request to
      the first text event, and the seconds between the first text event's arrival and the last
      event's (0 if nginx buffered the stream)
  streams HOST PORT PATH TOKEN COUNT
      opens COUNT event streams at once; prints how many got each status, and a refusal's body
  load HOST PORT PATH SECONDS CONNECTIONS [METHOD [TOKEN [close]]]
      keep-alive requests (GET unless METHOD says otherwise, with TOKEN as a bearer token unless it
      is "-", and with a new connection per request if "close" follows) from CONNECTIONS threads
      for SECONDS;
      prints the counts, and how many answers had each status. A reused connection that the server
      closes before any byte of a GET's answer is retried once on a new connection, as browsers and
      HTTP libraries do for idempotent requests (RFC 9112 9.3.1); any other method is never retried
  refill HOST PORT PATH RATE PAUSE METHOD TOKEN
      checks that a rate limit (RATE requests per minute) refills at that rate, on one kept-alive
      connection: drains the budget, waits for the first request to pass again (from then on the
      budget is exactly empty), waits PAUSE seconds and counts how many pass before the first 429.
      The expected count comes from the times each request was sent and answered, so a loaded
      machine's slow requests or long pauses widen nothing; prints "refill=ok ..." or
      "refill=wrong ...". A POST sends "{}" as JSON; TOKEN "-" sends no Authorization
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def websocket_open(host, port, path, token):
    """The handshake: the stream, its reader, the status, the headers and whether the accept key was right."""
    key = base64.b64encode(os.urandom(16)).decode()
    raw = socket.create_connection((host, int(port)), timeout=5)
    stream = tls_context().wrap_socket(raw, server_hostname="localhost")
    stream.sendall(
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode())
    reader = stream.makefile("rb")
    status = reader.readline().decode().split(" ")[1]
    headers = {}
    while (line := reader.readline().decode().strip()):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    expected = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
    return stream, reader, status, headers.get("sec-websocket-accept") == expected


def websocket_close(stream):
    mask = os.urandom(4)
    stream.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i] for i, b in enumerate(b"\x03\xe8")))


def websocket(host, port, path, token, message):
    stream, reader, status, accepted = websocket_open(host, port, path, token)
    if status != "101":
        print(f"status={status}")
        return
    mask = os.urandom(4)
    payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(message.encode()))
    stream.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + payload)
    first, second = reader.read(2)
    reply = reader.read(second & 0x7F).decode()
    websocket_close(stream)
    closed = reader.read(2)[:1] == bytes([0x88])
    print(f"status={status} accept={'ok' if accepted else 'wrong'} "
          f"opcode={first & 0x0F} reply={reply} close={'ok' if closed else 'missing'}")


def events_ws(host, port, path, token, count):
    stream, reader, status, _ = websocket_open(host, port, path, token)
    print(f"status={status}")
    seen = 0
    try:
        while status == "101" and (seen < int(count) or (int(count) == 0 and seen == 0)):
            first, second = reader.read(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(reader.read(2), "big")
            elif length == 127:
                length = int.from_bytes(reader.read(8), "big")
            payload = reader.read(length)
            if first & 0x0F == 8:
                break
            print(payload.decode())
            if json.loads(payload)["event"] not in ("start", "heartbeat") or int(count) == 0:
                seen += 1
    except (socket.timeout, ValueError):
        print("timed out")
    websocket_close(stream)


def sse(host, port, path, token):
    connection = http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"})
    response = connection.getresponse()
    print(f"status={response.status} content-type={response.getheader('Content-Type')}")
    arrivals = []
    for line in response:
        text = line.decode().rstrip("\n")
        if text.startswith("data: "):
            arrivals.append(time.monotonic())
            print(text)
    spread = arrivals[-1] - arrivals[0] if arrivals else 0
    print(f"events={len(arrivals)} spread={spread:.2f}")


def generate_stream(host, port, path, token, body):
    connection = http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "text/event-stream"}
    started = time.monotonic()
    connection.request("POST", path, body=body.encode(), headers=headers)
    response = connection.getresponse()
    print(f"status={response.status} content-type={response.getheader('Content-Type')}")
    names, first_text, last, engine = [], None, None, ""
    for line in response:
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            names.append(text[len("event: "):])
            last = time.monotonic()
            if names[-1] == "text" and first_text is None:
                first_text = last
        elif text.startswith("data: ") and names and names[-1] == "done":
            engine = json.loads(text[len("data: "):]).get("engine", "")
    collapsed = [name for i, name in enumerate(names) if i == 0 or name != names[i - 1]]
    print(f"events={' '.join(collapsed)} text_events={names.count('text')} engine={engine}")
    print(f"first={(first_text - started) if first_text else 0:.2f}")
    print(f"spread={(last - first_text) if first_text else 0:.2f}")


def streams(host, port, path, token, count):
    connections = []
    for _ in range(int(count)):
        connection = http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=10)
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        connections.append(connection)
    statuses, refusal = {}, ""
    for connection in connections:
        response = connection.getresponse()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        body = response.read().decode()
        if response.status != 200:
            refusal = body
        connection.close()
    print(" ".join(f"{status}x{number}" for status, number in sorted(statuses.items())), refusal)


class LoadCounts:
    def __init__(self):
        self.lock = threading.Lock()
        self.answered = self.non_2xx = self.failed = self.retried = 0
        self.statuses = {}

    def add(self, status=None, **counts):
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)
            if status is not None:
                self.statuses[status] = self.statuses.get(status, 0) + 1


# Raised when a reused connection was closed before any byte of the answer arrived.
CLOSED_BEFORE_ANSWER = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        ssl.SSLEOFError, ssl.SSLZeroReturnError)


def load(host, port, path, seconds, connections, method="GET", token="-", connection_header="keep-alive"):
    counts = LoadCounts()
    deadline = time.monotonic() + float(seconds)

    def connect():
        return http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=5)

    def ask(connection):
        headers = {"Connection": connection_header}
        if token != "-":
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=b"" if method != "GET" else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    def client():
        connection, used = connect(), False
        while time.monotonic() < deadline:
            try:
                status = ask(connection)
            except CLOSED_BEFORE_ANSWER:
                connection.close()
                connection = connect()
                if not used or method != "GET":
                    counts.add(failed=1)
                    continue
                counts.add(retried=1)
                try:
                    status = ask(connection)
                except (OSError, http.client.HTTPException):
                    counts.add(failed=1)
                    connection, used = connect(), False
                    continue
            except (OSError, http.client.HTTPException):
                counts.add(failed=1)
                connection, used = connect(), False
                continue
            used = True
            counts.add(status=status, answered=1, non_2xx=0 if 200 <= status < 300 else 1)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(int(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = " ".join(f"{status}x{number}" for status, number in sorted(counts.statuses.items()))
    print(f"answered={counts.answered} non_2xx={counts.non_2xx} failed={counts.failed} retried={counts.retried} "
          f"statuses={statuses}")


def refill(host, port, path, rate, pause, method, token):
    per_second = float(rate) / 60
    connection = http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=10)
    headers = {"Content-Type": "application/json"} if method == "POST" else {}
    if token != "-":
        headers["Authorization"] = f"Bearer {token}"

    def ask():
        sent = time.monotonic()
        connection.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return sent, time.monotonic(), response.status

    for _ in range(500):
        previous_sent, _, status = ask()
        if status == 429:
            break
    else:
        print("refill=wrong: 500 requests and none refused, the budget never ran out")
        return
    # Polls until a request passes: nginx let it through at some moment between its sending and its
    # answer, with less refill left over than accrues from the previous refused request's sending.
    deadline = previous_sent + 2 / per_second + 5
    while True:
        sent, answered, status = ask()
        if status != 429:
            break
        if answered > deadline:
            print(f"refill=wrong: nothing passed for {2 / per_second + 5:.1f} s after the budget ran out")
            return
        previous_sent = sent
        time.sleep(0.05)
    resynced_answered = answered
    time.sleep(float(pause))
    passed, first_sent, last_answered = 0, None, None
    for _ in range(int(per_second * (float(pause) + 1)) + 3):
        sent, last_answered, status = ask()
        first_sent = first_sent or sent
        if status == 429:
            break
        passed += 1
    connection.close()
    # The k-th counted request passes once k budget units have refilled since the resync; nginx reads
    # its clock once per event-loop turn, hence a few milliseconds of slack each way.
    shortest = first_sent - resynced_answered - 0.005
    longest = last_answered - previous_sent + 0.005
    low, high = int(per_second * shortest), int(per_second * longest)
    verdict = "ok" if low <= passed <= high else "wrong"
    print(f"refill={verdict} passed={passed} expected={low}-{high} over {shortest:.3f}-{longest:.3f} s")


commands = {"websocket": websocket, "events-ws": events_ws, "sse": sse, "generate-stream": generate_stream, "streams": streams, "load": load, "refill": refill}
if len(sys.argv) < 2 or sys.argv[1] not in commands:
    sys.exit(__doc__)
commands[sys.argv[1]](*sys.argv[2:])
