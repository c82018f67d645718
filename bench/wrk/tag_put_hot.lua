-- PUT /v2/images/{id}/tags/{tag} on one image (BENCH_HOT_ID) from every
-- connection at once: compare-and-swap contention. Tags cycle through 100
-- names, so the image stays under the 128-tag quota; a re-added tag is still
-- a write (updated_at changes).
dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk/common.lua")

function init(args)
  hot = os.getenv("BENCH_HOT_ID")
  n = 0
end

function request()
  n = n + 1
  return wrk.format("PUT", "/v2/images/" .. hot .. "/tags/hot-" .. (((tid or 0) * 37 + n) % 100))
end
