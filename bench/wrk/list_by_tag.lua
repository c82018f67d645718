-- GET /v2/images?tag=match&limit=100: the same 50 matches whatever the
-- store's size (bench/run seeds every 20th of the first 1,000 images with it).
-- BENCH_PATH replaces the path (bench/run uses it for GET /healthcheck).
dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk/common.lua")

function init(args)
  req = wrk.format("GET", os.getenv("BENCH_PATH") or "/v2/images?tag=match&limit=100")
end

function request()
  return req
end
