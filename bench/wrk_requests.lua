-- wrk script for bench/webhooks.py: replays pre-signed raw HTTP requests from a file, each
-- wrk thread taking its own share so no request is sent twice while the file lasts.
local separator = "\n--8<--bench-request--8<--\n"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2])
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  requests = {}
  local position, k = 1, 0
  while true do
    local start, finish = string.find(data, separator, position, true)
    local chunk = start and string.sub(data, position, start - 1) or string.sub(data, position)
    if #chunk > 0 then
      if k % nthreads == index then table.insert(requests, chunk) end
      k = k + 1
    end
    if not start then break end
    position = finish + 1
  end
  next_request, wrapped = 1, 0
end

function request()
  local chosen = requests[next_request]
  next_request = next_request + 1
  if next_request > #requests then next_request, wrapped = 1, wrapped + 1 end
  return chosen
end

function done(summary, latency, requests_)
  for _, thread in ipairs(threads) do
    local w = thread:get("wrapped")
    if w and w > 0 then io.write("WRAPPED ", tostring(w), "\n") end
  end
end
