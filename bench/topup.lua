-- wrk: POST /api/v1/topups on random bench lines, each request with its own Idempotency-Key.
local lines = tonumber(os.getenv("BENCH_LINES"))
local offer = os.getenv("BENCH_OFFER")
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN") -- differs per wrk invocation, so warm-up and run never share a key
local next_thread = 0
local counter = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
end

function request()
  counter = counter + 1
  local body = string.format('{"msisdn":"+336%d","offer_id":"%s","channel":"api"}',
    10000000 + math.random(0, lines - 1), offer)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, thread_id, counter),
  }
  return wrk.format("POST", "/api/v1/topups", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
