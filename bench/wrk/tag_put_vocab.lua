-- PUT /v2/images/{id}/tags/{tag}: tags from a vocabulary of 64, as a cloud's
-- tags repeat across images. Every request gives an image a tag it does not
-- have yet (image n mod N, vocabulary word n / N), so the tag's log already
-- exists and the PUT joins it; the floor does its usual get + set.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk/common.lua")

function init(args)
  ids = load_ids()
  n = 0
end

function request()
  n = n + 1
  local k = n * 2 + (tid or 0)
  local id = ids[k % #ids + 1]
  local word = math.floor(k / #ids) % 64
  return wrk.format("PUT", "/v2/images/" .. id .. "/tags/" .. run .. "-word" .. word)
end
