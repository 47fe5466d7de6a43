"""Time to the first text event of a streamed generation, through nginx and at aid's own socket.

bench/run-gateway-generate runs it: ROUNDS streamed summaries each way, in turn, one at a time; for
each, the time from sending the request to reading the first `event: text`. Prints p50 and p99 per
way. Through nginx the request carries the bearer token (TLS, auth_request to authd, the proxy); at
aid's socket it carries the identity headers nginx would set.

  python3 first-token.py HTTPS_PORT AID_SOCKET TOKEN USER_ID ROUNDS
"""
import random
import socket
import ssl
import statistics
import sys
import time
import uuid

https_port, aid_socket, token, user_id, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
run = random.randrange(1 << 30)


def request(headers, count):
    body = '{"topic":"First token %d %d","function":"summary","options":{"max_tokens":40},"stream":true}' % (run, count)
    lines = ["POST /api/generate HTTP/1.1", "Host: localhost", "Content-Type: application/json", "Connection: close",
             "Content-Length: %d" % len(body)] + headers
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def first_text(connect, payload):
    sock = connect()
    try:
        started = time.perf_counter()
        sock.sendall(payload)
        seen = b""
        while b"event: text" not in seen:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("the stream ended before its first text event: %r" % seen[-300:])
            seen += chunk
        return time.perf_counter() - started
    finally:
        sock.close()


context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE


def through_nginx():
    return context.wrap_socket(socket.create_connection(("127.0.0.1", int(https_port))), server_hostname="localhost")


def at_aid():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(aid_socket)
    return sock


nginx_headers = ["Authorization: Bearer " + token]
aid_headers = ["X-User-Id: " + user_id, "X-Session-Id: " + str(uuid.uuid4()), "X-Scopes: generate", "X-Tier: bench"]
times = {"nginx": [], "aid": []}
for count in range(rounds):
    times["nginx"].append(first_text(through_nginx, request(nginx_headers, 2 * count)))
    times["aid"].append(first_text(at_aid, request(aid_headers, 2 * count + 1)))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


for way in ("nginx", "aid"):
    print("first text event %s: p50_ms=%.2f p99_ms=%.2f (%d streams)" % (way, percentile(times[way], 0.5), percentile(times[way], 0.99), rounds))
print("through nginx minus at aid: p50_ms=%.2f" % (statistics.median(times["nginx"]) * 1000 - statistics.median(times["aid"]) * 1000))
