"""A fake model provider for the local stack and the tests (no provider is reachable from here),
speaking two APIs: OpenAI's chat completions (POST /v1/chat/completions) and Anthropic's Messages
(POST /v1/messages, which wants the key in KEY_FILE as x-api-key and an anthropic-version), whole
or streamed, answering by the model asked for. Python's standard library only.

  fake-provider.py PORT KEY_FILE

OpenAI's models:
  echo      answers "You said: <the last user message>", a word a chunk, with usage
  fill      answers max_tokens words and says it used exactly max_tokens completion tokens (and as
            many prompt tokens as its input's bytes): a settlement that charges the whole bound
  unwell    503, as an overloaded provider does
  any other 404 model_not_found
Anthropic's models:
  claude-echo        echo's answer as Anthropic sends it (stop_reason end_turn, or max_tokens when
                     cut short), a text delta a word, with ping events between
  claude-overloaded  529 overloaded_error

Its own route, for the tests: GET /test/calls  the models asked for, oldest first.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
with open(sys.argv[2]) as key_file:
    anthropic_key = key_file.readline().strip()
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
        if self.path not in ("/v1/chat/completions", "/v1/messages"):
            return self.answer(404, {"error": {"message": "no such route", "type": "invalid_request_error", "param": None, "code": None}})
        try:
            request = json.loads(raw)
        except ValueError:
            return self.answer(400, {"error": {"message": "the body is not JSON", "type": "invalid_request_error", "param": None, "code": None}})
        model = request.get("model", "")
        with lock:
            calls.append(model)
        if self.path == "/v1/messages":
            return self.messages(request, raw)
        if model == "unwell":
            return self.answer(503, {"error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}})
        if model not in ("echo", "fill"):
            return self.answer(404, {"error": {"message": f"no model {model}", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
        max_tokens = int(request.get("max_completion_tokens") or request.get("max_tokens") or 16)
        if model == "fill":
            words = ["word"] * max_tokens
            usage = {"prompt_tokens": len(raw), "completion_tokens": max_tokens, "total_tokens": len(raw) + max_tokens}
        else:
            words = ("You said: " + self.said(request)).split()[:max_tokens]
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

    def said(self, request):
        said = next((m.get("content") for m in reversed(request.get("messages", [])) if m.get("role") == "user"), "")
        if isinstance(said, list):
            said = " ".join(part.get("text", "") for part in said if isinstance(part, dict))
        return str(said)

    def anthropic_error(self, status, kind, message):
        self.answer(status, {"type": "error", "error": {"type": kind, "message": message}})

    def messages(self, request, raw):
        """Anthropic's Messages API, as far as the fake's models need it."""
        if self.headers.get("x-api-key") != anthropic_key:
            return self.anthropic_error(401, "authentication_error", "invalid x-api-key")
        if not self.headers.get("anthropic-version"):
            return self.anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        if not isinstance(request.get("max_tokens"), int) or "messages" not in request:
            return self.anthropic_error(400, "invalid_request_error", "max_tokens and messages are required")
        model = request["model"]
        if model == "claude-overloaded":
            return self.anthropic_error(529, "overloaded_error", "Overloaded")
        if model != "claude-echo":
            return self.anthropic_error(404, "not_found_error", f"model: {model}")
        max_tokens = request["max_tokens"]
        words = ("You said: " + self.said(request)).split()
        stop = "max_tokens" if len(words) > max_tokens else "end_turn"
        words = words[:max_tokens]
        input_tokens = max(1, len(raw) // 4)
        ident = {"id": f"msg_fake{int(time.time() * 1000)}", "type": "message", "role": "assistant", "model": model}
        if not request.get("stream"):
            return self.answer(200, {**ident, "content": [{"type": "text", "text": " ".join(words)}], "stop_reason": stop, "stop_sequence": None,
                                     "usage": {"input_tokens": input_tokens, "output_tokens": len(words)}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def send(name, body):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(body)}\n\n".encode())
            self.wfile.flush()

        send("message_start", {"type": "message_start", "message": {**ident, "content": [], "stop_reason": None, "stop_sequence": None,
                                                                    "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})
        send("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        for index, word in enumerate(words):
            send("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "text_delta", "text": word if index == 0 else " " + word}})
            if index == 0:
                send("ping", {"type": "ping"})
        send("content_block_stop", {"type": "content_block_stop", "index": 0})
        send("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": len(words)}})
        send("message_stop", {"type": "message_stop"})
        self.close_connection = True


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
