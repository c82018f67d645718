-- Shared by the bench/wrk/*.lua scripts (loaded with dofile). Every request
-- carries both identities: X-Auth-Token for image-tags in tokens mode, the
-- keystonemiddleware headers for Glance; each side ignores the other's.
-- Environment: BENCH_IDS (file of image ids, one a line), BENCH_RUN (a prefix
-- that keeps tags distinct between runs), BENCH_TOKEN.

wrk.headers["X-Auth-Token"] = os.getenv("BENCH_TOKEN") or "bench-token"
wrk.headers["X-Identity-Status"] = "Confirmed"
wrk.headers["X-Project-Id"] = "proj-a"
wrk.headers["X-Roles"] = "admin,member,reader"

run = os.getenv("BENCH_RUN") or "r"

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function load_ids()
  local path = os.getenv("BENCH_IDS")
  local list = {}
  if path then
    for line in io.lines(path) do
      if line ~= "" then table.insert(list, line) end
    end
  end
  return list
end

-- One machine-readable line for bench/run: throughput, latency in ms, and
-- failures (non2xx counts answers >= 400; errors: connect/read/write/timeout).
function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
