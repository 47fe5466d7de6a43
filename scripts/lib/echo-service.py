"""A stand-in for a daemon behind nginx, for scripts/gateway-test: it shows exactly what a service
receives. Listens on the unix socket given as the only argument.

  GET .../sse        three server-sent events 0.5 s apart, each naming the X-User-Id received
  WebSocket upgrade  a real handshake, then echoes each text message as "<X-User-Id>: <message>"
  anything else      200 with the request headers as JSON (GET or POST; a POST's body is read)
"""
import base64
import hashlib
import http.server
import json
import os
import socketserver
import struct
import sys
import time

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exactly(stream, count):
    data = stream.read(count)
    if len(data) != count:
        raise ConnectionError("the peer closed mid-frame")
    return data


def read_frame(stream):
    """One client frame: (opcode, payload). Clients must mask (RFC 6455 5.1)."""
    first, second = read_exactly(stream, 2)
    opcode, length = first & 0x0F, second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read_exactly(stream, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read_exactly(stream, 8))
    mask = read_exactly(stream, 4) if second & 0x80 else None
    payload = read_exactly(stream, length)
    if mask:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return opcode, payload


def frame(opcode, payload):
    """One unmasked server frame (payloads here stay under 126 bytes)."""
    return bytes([0x80 | opcode, len(payload)]) + payload


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
        elif self.path.endswith("/sse"):
            self.events()
        else:
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.do_GET()

    def events(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        user = self.headers.get("X-User-Id", "")
        for number in range(1, 4):
            event = f"id: {number}\ndata: event {number} for {user}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            if number < 3:
                time.sleep(0.5)
        self.wfile.write(b"0\r\n\r\n")

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        user = self.headers.get("X-User-Id", "")
        while True:
            opcode, payload = read_frame(self.rfile)
            if opcode == 0x8:
                self.wfile.write(frame(0x8, payload[:2]))
                break
            if opcode == 0x1:
                self.wfile.write(frame(0x1, f"{user}: {payload.decode()}".encode()))
            self.wfile.flush()
        self.close_connection = True

    def address_string(self):
        return "nginx"


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 512


path = sys.argv[1]
if os.path.exists(path):
    os.unlink(path)
server = Server(path, Echo)
os.chmod(path, 0o666)
server.serve_forever()
