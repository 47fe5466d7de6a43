"""A fake OpenAI-compatible model provider for the local stack and the tests (no provider is
reachable from here): POST /v1/chat/completions, whole or streamed, by the model asked for. Python's
standard library only.

  fake-openai.py PORT

Models:
  echo      answers "You said: <the last user message>", a word a chunk, with usage
  fill      answers max_tokens words and says it used exactly max_tokens completion tokens (and as
            many prompt tokens as its input's bytes): a settlement that charges the whole bound
  unwell    503, as an overloaded provider does
  any other 404 model_not_found

Its own route, for the tests: GET /test/calls  the models asked for, oldest first.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
lock = threading.Lock()
calls = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/test/calls":
            with lock:
                return self.answer(200, list(calls))
        self.answer(404, {"error": {"message": "no such route", "type": "invalid_request_error", "param": None, "code": None}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != "/v1/chat/completions":
            return self.answer(404, {"error": {"message": "no such route", "type": "invalid_request_error", "param": None, "code": None}})
        try:
            request = json.loads(raw)
        except ValueError:
            return self.answer(400, {"error": {"message": "the body is not JSON", "type": "invalid_request_error", "param": None, "code": None}})
        model = request.get("model", "")
        with lock:
            calls.append(model)
        if model == "unwell":
            return self.answer(503, {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}})
        if model not in ("echo", "fill"):
            return self.answer(404, {"error": {"message": f"no model {model}", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
        max_tokens = int(request.get("max_completion_tokens") or request.get("max_tokens") or 16)
        if model == "fill":
            words = ["word"] * max_tokens
            usage = {"prompt_tokens": len(raw), "completion_tokens": max_tokens, "total_tokens": len(raw) + max_tokens}
        else:
            said = next((m.get("content") for m in reversed(request.get("messages", [])) if m.get("role") == "user"), "")
            if isinstance(said, list):
                said = " ".join(part.get("text", "") for part in said if isinstance(part, dict))
            words = ("You said: " + str(said)).split()[:max_tokens]
            usage = {"prompt_tokens": max(1, len(raw) // 4), "completion_tokens": len(words), "total_tokens": max(1, len(raw) // 4) + len(words)}
        finish = "length" if len(words) >= max_tokens else "stop"
        ident = {"id": f"chatcmpl-fake{int(time.time() * 1000)}", "created": int(time.time()), "model": model}
        if not request.get("stream"):
            message = {"role": "assistant", "content": " ".join(words)}
            return self.answer(200, {**ident, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = {**ident, "object": "chat.completion.chunk"}

        def send(body):
            self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")
            self.wfile.flush()

        send({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for index, word in enumerate(words):
            send({**chunk, "choices": [{"index": 0, "delta": {"content": word if index == 0 else " " + word}, "finish_reason": None}]})
        send({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            send({**chunk, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
