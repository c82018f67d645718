-- PUT /v2/images/{id}/tags/{tag} signed SDK-HMAC-SHA256, replaying the
-- requests bench/sign_requests.py signed with the Huawei SDK's own Signer
-- (BENCH_SIGNED: path, X-Sdk-Date, Authorization a line). Each thread takes
-- every second line, so no two requests are the same write.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/wrk/common.lua")
-- Only the signature identifies these requests.
wrk.headers["X-Auth-Token"] = nil
wrk.headers["X-Identity-Status"] = nil
wrk.headers["X-Roles"] = nil
local signed_file = os.getenv("BENCH_SIGNED")
local project = os.getenv("BENCH_PROJECT") or "proj-a"

function init(args)
  lines = {}
  local i = 0
  for line in io.lines(signed_file) do
    if i % 2 == (tid or 0) % 2 then
      local path, date, authorization = line:match("([^\t]+)\t([^\t]+)\t(.+)")
      table.insert(lines, {path, date, authorization})
    end
    i = i + 1
  end
  n = 0
end

function request()
  n = n % #lines + 1
  local r = lines[n]
  return wrk.format("PUT", r[1], {
    ["X-Sdk-Date"] = r[2], ["Authorization"] = r[3], ["X-Project-Id"] = project,
  })
end
