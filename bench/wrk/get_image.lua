-- GET /v2/images/{id} of a random image in BENCH_IDS.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk/common.lua")

function init(args)
  ids = load_ids()
  math.randomseed(1000 + (tid or 0))
end

function request()
  return wrk.format("GET", "/v2/images/" .. ids[math.random(#ids)])
end
