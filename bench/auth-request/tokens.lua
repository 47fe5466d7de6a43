-- wrk script: every request carries the next token of a file (one per line) as a bearer token, in
-- file order and round again, and done() prints one machine-readable line of results.
--
--   wrk -t1 -c32 -d10s -s tokens.lua http://127.0.0.1:PORT/authd/ -- TOKEN_FILE
--
-- Each wrk thread cycles the whole list from its first line: run one thread (-t1) when the tokens
-- must be distinct, or threads would send the same token moments apart.

local prepared = {}
local next_index = 1

function init(args)
  local path = args[1] or error("usage: wrk -s tokens.lua URL -- TOKEN_FILE")
  -- Whole requests are formatted once here, so that the client does the same little work per
  -- request whether it sends one token or thousands.
  for token in io.lines(path) do
    if token ~= "" then
      local headers = {}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      headers["Authorization"] = "Bearer " .. token
      prepared[#prepared + 1] = wrk.format(nil, nil, headers)
    end
  end
  assert(#prepared > 0, path .. " holds no token")
end

function request()
  local formatted = prepared[next_index]
  next_index = next_index % #prepared + 1
  return formatted
end

function done(summary, latency)
  local errors = summary.errors
  io.write(string.format("result rps=%.1f p50_us=%d p99_us=%d requests=%d http_errors=%d socket_errors=%d\n",
    summary.requests / summary.duration * 1e6, latency:percentile(50), latency:percentile(99),
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
