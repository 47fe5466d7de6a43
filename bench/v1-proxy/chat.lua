-- wrk script for bench/run-v1-proxy: the same chat completion request on every call, as a client of
-- /v1 sends it (BODY, with the API key KEY); the fake provider at zero latency ignores both.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
