#!/usr/bin/env python3
"""Mints access tokens from a running authd for bench/run-auth-request.

    mint-tokens.py SOCKET EMAIL PASSWORD_FILE COUNT OUT_FILE

Registers the account (or finds it registered), logs in once per chain, then refreshes each
chain's session until COUNT access tokens are written to OUT_FILE, one per line. Every refresh
answers a new access token and a new refresh token and spends the old one, so one chain is
sequential; several chains run side by side to keep authd and PostgreSQL busy.
"""
import http.client
import json
import socket
import sys
import threading
import time

CHAINS = 4


class UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 with keep-alive over a unix socket."""

    def __init__(self, socket_path):
        super().__init__("localhost", timeout=30)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def post(connection, path, body, expected):
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status not in expected:
        sys.exit(f"mint-tokens: POST {path} answered {response.status}: {data.decode(errors='replace')}")
    return response.status, data


def login(connection, email, password):
    _, data = post(connection, "/auth/login", {"email": email, "password": password}, {200})
    answer = json.loads(data)
    return answer["access_token"], answer["refresh_token"]


def run_chain(connection, refresh_token, count, tokens, failures):
    try:
        for _ in range(count):
            # Never retried: sending a spent refresh token again counts as theft and revokes the
            # session, with every access token it issued.
            _, data = post(connection, "/auth/refresh", {"refresh_token": refresh_token}, {200})
            answer = json.loads(data)
            tokens.append(answer["access_token"])
            refresh_token = answer["refresh_token"]
        connection.close()
    except BaseException as error:  # sys.exit in a thread raises SystemExit; keep it for main
        failures.append(error)


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: mint-tokens.py SOCKET EMAIL PASSWORD_FILE COUNT OUT_FILE")
    socket_path, email, password_file, count, out_file = sys.argv[1:]
    # From a file, so that the password stays out of the process list.
    with open(password_file) as file:
        password = file.read().strip()
    count = int(count)
    started = time.monotonic()

    connection = UnixConnection(socket_path)
    status, _ = post(connection, "/auth/register", {"email": email, "password": password}, {201, 409})
    connection.close()

    per_chain = [count // CHAINS + (1 if i < count % CHAINS else 0) for i in range(CHAINS)]
    chains = [[] for _ in range(CHAINS)]
    failures = []
    # Logins one after another: authd refuses a second login attempt on an account while one runs.
    sessions = []
    for _ in range(CHAINS):
        connection = UnixConnection(socket_path)
        sessions.append((connection, login(connection, email, password)[1]))
    threads = [
        threading.Thread(target=run_chain, args=(connection, refresh_token, n, tokens, failures))
        for (connection, refresh_token), n, tokens in zip(sessions, per_chain, chains)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        error = failures[0]
        sys.exit(error.code if isinstance(error, SystemExit) else f"mint-tokens: {error!r}")

    with open(out_file, "w") as out:
        for tokens in chains:
            out.writelines(token + "\n" for token in tokens)
    account = "registered" if status == 201 else "already registered"
    print(f"mint-tokens: {count} access tokens in {time.monotonic() - started:.1f} s "
          f"({account}, {CHAINS} sessions)")


if __name__ == "__main__":
    main()
