"""Tries an AMQP 0-9-1 login (PLAIN) and prints "accepted" or "refused", for the checks that the
local broker lets in no one without its password. Usage: amqp-login.py PORT USER < PASSWORD_FILE"""

import socket
import struct
import sys


def read_frame(connection):
    header = receive(connection, 7)
    kind, _channel, size = struct.unpack(">BHI", header)
    payload = receive(connection, size)
    receive(connection, 1)
    return kind, payload


def receive(connection, count):
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def short_string(value):
    return struct.pack(">B", len(value)) + value


def main():
    port, user, password = int(sys.argv[1]), sys.argv[2].encode(), sys.stdin.read().strip().encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"AMQP\x00\x00\x09\x01")
        read_frame(connection)  # connection.start
        start_ok = (
            struct.pack(">HH", 10, 11)
            + struct.pack(">I", 0)  # client properties: an empty table
            + short_string(b"PLAIN")
            + struct.pack(">I", len(user) + len(password) + 2)
            + b"\x00" + user + b"\x00" + password
            + short_string(b"en_US")
        )
        connection.sendall(struct.pack(">BHI", 1, 0, len(start_ok)) + start_ok + b"\xce")
        try:
            kind, payload = read_frame(connection)
        except (ConnectionError, socket.timeout):
            print("refused")
            return
        # connection.tune (10, 30) follows an accepted login; a refusal closes the connection.
        print("accepted" if kind == 1 and payload[:4] == struct.pack(">HH", 10, 30) else "refused")


main()
