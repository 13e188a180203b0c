-- wrk: POST /api/v1/vouchers/redeem, each request a card of its own (read from BENCH_PINS, one PIN per line) on a
-- random bench line, with its own Idempotency-Key. Thread t of n takes cards from+t, from+t+n, from+t+2n... of the
-- range [from, to); past `to` it wraps around (those cards are used: the answers are 422, counted as errors).
local lines = tonumber(os.getenv("BENCH_LINES"))
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN")
local first = tonumber(os.getenv("BENCH_PIN_FROM"))
local last = tonumber(os.getenv("BENCH_PIN_TO"))
local nthreads = tonumber(os.getenv("BENCH_THREADS"))
local next_thread = 0
local counter = 0
local pins = {}

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  for pin in io.lines(os.getenv("BENCH_PINS")) do
    pins[#pins + 1] = pin
  end
end

function request()
  local index = first + thread_id + nthreads * counter
  if index >= last then
    index = first + (index - first) % (last - first)
  end
  counter = counter + 1
  local body = string.format('{"msisdn":"+336%d","pin":"%s"}', 10000000 + math.random(0, lines - 1),
    pins[index + 1])
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("%s-%d-%d", run, thread_id, counter),
  }
  return wrk.format("POST", "/api/v1/vouchers/redeem", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
