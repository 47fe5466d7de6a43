"""A fake of Telegram's Bot API for the local stack and the tests (Telegram is not reachable here).

It takes botd's sendMessage calls for the bot whose token it is given and records them; answers 429
with a retry_after for a chat when told to; and sends updates to the bot's webhook as Telegram does,
with the secret token header. Python's standard library only.

  fake-telegram.py PORT TOKEN_FILE WEBHOOK_URL SECRET_FILE

Its own routes, for the tests:
  GET  /test/messages[?chat_id=N]            the messages sent, oldest first: [{chat_id, text, at}]
  POST /test/throttle {chat_id, retry_after, times}   answer 429 to that chat's next `times` messages
  POST /test/updates {update..., "secret"?}  deliver an update to the webhook (with the right secret,
                                             or the one given); answers {status, body} of the webhook
"""
import json
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, token_file, webhook_url, secret_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(token_file) as f:
    token = f.read().strip()
with open(secret_file) as f:
    secret = f.read().strip()

lock = threading.Lock()
messages = []
throttled = {}
# The stack's certificate is its own: the fake is a local test tool and does not check it.
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        if self.path.startswith("/test/messages"):
            chat = self.path.partition("chat_id=")[2]
            with lock:
                found = [m for m in messages if not chat or str(m["chat_id"]) == chat]
            return self.answer(200, found)
        self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def do_POST(self):
        if self.path == f"/bot{token}/sendMessage":
            request = self.body()
            chat = request.get("chat_id")
            text = request.get("text") or ""
            if not isinstance(chat, int) or not 1 <= len(text) <= 4096:
                return self.answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty or too long"})
            with lock:
                left = throttled.get(chat)
                if left and left["times"] > 0:
                    left["times"] -= 1
                    return self.answer(429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {left['retry_after']}",
                                             "parameters": {"retry_after": left["retry_after"]}})
                messages.append({"chat_id": chat, "text": text, "at": time.time()})
                number = len(messages)
            return self.answer(200, {"ok": True, "result": {"message_id": number, "chat": {"id": chat}, "date": int(time.time()), "text": text}})
        if self.path.startswith("/bot"):
            return self.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if self.path == "/test/throttle":
            request = self.body()
            with lock:
                throttled[request["chat_id"]] = {"retry_after": request["retry_after"], "times": request.get("times", 1)}
            return self.answer(200, {"ok": True})
        if self.path == "/test/updates":
            update = self.body()
            sent_secret = update.pop("secret", secret)
            headers = {"Content-Type": "application/json"}
            if sent_secret is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = sent_secret
            request = urllib.request.Request(webhook_url, data=json.dumps(update).encode(), headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, context=insecure, timeout=10) as response:
                    return self.answer(200, {"status": response.status, "body": response.read().decode()})
            except urllib.error.HTTPError as error:
                return self.answer(200, {"status": error.code, "body": error.read().decode()})
        self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
