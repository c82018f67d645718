-- GET /?op=OP&n=N on bench/kvprobe (bench/store_calls): N repetitions of one
-- key-value call per request. Environment: PROBE_OP, PROBE_N, PROBE_KEYS
-- ("seed": every request reads the keys seed:0..N-1; "rotate": each request
-- takes the next of PROBE_SLOTS (64) key sets of its wrk thread, t<tid>s<k>,
-- so requests in flight at once do not write the same keys), PROBE_EXTRA
-- (more query, e.g. "&m=3").
-- Besides wrk's own figures it sums the probe's x-probe-ns (guest time of
-- the loop) and x-probe-cas-failed over all responses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  op = os.getenv("PROBE_OP") or "none"
  n = tonumber(os.getenv("PROBE_N") or "0")
  rotate = os.getenv("PROBE_KEYS") == "rotate"
  slots = tonumber(os.getenv("PROBE_SLOTS") or "64")
  extra = os.getenv("PROBE_EXTRA") or ""
  fixed = wrk.format("GET", "/?op=" .. op .. "&n=" .. n .. "&key=seed" .. extra)
  count = 0
  probe_ns = 0
  probed = 0
  cas_failed = 0
end

function request()
  if not rotate then return fixed end
  count = count + 1
  return wrk.format("GET", string.format("/?op=%s&n=%d&key=t%ds%d%s", op, n, tid, count % slots, extra))
end

function response(status, headers, body)
  local ns = headers["x-probe-ns"]
  if ns then
    probe_ns = probe_ns + tonumber(ns)
    probed = probed + 1
    cas_failed = cas_failed + tonumber(headers["x-probe-cas-failed"] or "0")
  end
end

function done(summary, latency, requests)
  local ns, answered, failed = 0, 0, 0
  for _, t in ipairs(threads) do
    ns = ns + t:get("probe_ns")
    answered = answered + t:get("probed")
    failed = failed + t:get("cas_failed")
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.2f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d guest_ns=%.0f cas_failed=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout,
    answered > 0 and ns / answered or 0, failed))
end
