-- Telegram updates for botd's webhook, each with an update_id of its own, spread over CHATS chats,
-- with the secret token; plain text, which botd stores and handles without a reply.
local counter = 0
local thread_base
local secret = os.getenv("WEBHOOK_SECRET")
local chats = tonumber(os.getenv("CHATS") or "1000")
local run = tonumber(os.getenv("RUN_ID"))

function setup(thread)
  thread:set("thread_base", run * 100000000 + math.random(0, 999) * 100000)
end

function request()
  counter = counter + 1
  local id = thread_base + counter
  local chat = 1000000 + (id % chats)
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"date":1765000000,"chat":{"id":%d,"type":"private"},' ..
    '"from":{"id":%d,"is_bot":false,"first_name":"Bench"},"text":"hello"}}', id, id, chat, chat)
  return wrk.format("POST", "/telegram/webhook",
    { ["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = secret }, body)
end

function done(summary, latency, requests)
  io.write(string.format("webhook: %d requests, %d non-2xx, %.0f req/s, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
