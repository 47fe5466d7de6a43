-- wrk script for bench/run-gateway-generate: POST /api/generate, a summary answered in the request,
-- each request with its own topic so that the result cache answers none of them.
local token = os.getenv("TOKEN")
local counter = 0
local run = math.random(1, 1000000000)

request = function()
  counter = counter + 1
  local body = string.format('{"topic":"Gateway bench %d %d","function":"summary","options":{"max_tokens":40}}', run, counter)
  return wrk.format("POST", "/api/generate", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
