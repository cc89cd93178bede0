-- One wrk scenario, configured by environment variables (see bench/bench.py):
-- BENCH_METHOD, BENCH_PATH (with {id} for a random note id), BENCH_BODY
-- (with {n} for a counter), BENCH_TOKEN, BENCH_ID_MIN and BENCH_ID_MAX.
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local low = tonumber(os.getenv("BENCH_ID_MIN") or "1")
local high = tonumber(os.getenv("BENCH_ID_MAX") or "1")
local counter = 0

local headers = { ["Content-Type"] = "application/json" }
if token and token ~= "" then
  headers["Authorization"] = "Token " .. token
end

request = function()
  counter = counter + 1
  local target = path:gsub("{id}", tostring(math.random(low, high)))
  local payload = nil
  if body and body ~= "" then
    payload = body:gsub("{n}", tostring(counter))
  end
  return wrk.format(method, target, headers, payload)
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests": %d, "rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "non_2xx": %d, ' ..
    '"socket_errors": %d}\n',
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
