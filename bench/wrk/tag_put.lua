-- PUT /v2/images/{id}/tags/{tag}: a new tag every request, spread over every
-- image in BENCH_IDS (a few tags per image, far from the 128 quota).
dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk/common.lua")

function init(args)
  ids = load_ids()
  n = 0
end

function request()
  n = n + 1
  local id = ids[((n * 7919) + (tid or 0) * 104729) % #ids + 1]
  return wrk.format("PUT", "/v2/images/" .. id .. "/tags/" .. run .. "-" .. (tid or 0) .. "-" .. n)
end
