-- wrk script of the load benchmark (tests/benches/load.rs), which writes the two files it reads:
--   wrk ... -s load.lua URL -- PATHS_FILE COOKIES_FILE
-- Each request takes the next path (list pages, name/kana/code searches, detail pages) and the
-- next of the logged-in sessions' cookies, so every connection walks through all of them.
-- Anything but 200 is counted by its class (a redirect here means a lost session: an error too),
-- and done() prints one line `LOADJSON {...}` with the totals and the latency percentiles.

local paths, cookies = {}, {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function lines(file)
  local out = {}
  for line in io.lines(file) do
    if line ~= "" then table.insert(out, line) end
  end
  return out
end

function init(args)
  paths = lines(args[1])
  cookies = lines(args[2])
  -- Threads start at different places, so they do not ask for the same page at once.
  counter = (id or 0) * 7919
  status_3xx, status_4xx, status_5xx = 0, 0, 0
end

function request()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  local cookie = cookies[(counter % #cookies) + 1]
  return wrk.format("GET", path, { ["Cookie"] = cookie })
end

function response(status, headers, body)
  if status >= 500 then
    status_5xx = status_5xx + 1
  elseif status >= 400 then
    status_4xx = status_4xx + 1
  elseif status ~= 200 then
    status_3xx = status_3xx + 1
  end
end

function done(summary, latency, requests)
  local s3, s4, s5 = 0, 0, 0
  for _, t in ipairs(threads) do
    s3 = s3 + t:get("status_3xx")
    s4 = s4 + t:get("status_4xx")
    s5 = s5 + t:get("status_5xx")
  end
  local e = summary.errors
  io.write(string.format(
    'LOADJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"status_3xx":%d,"status_4xx":%d,"status_5xx":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"latency_ms":{"p50":%.2f,"p90":%.2f,"p99":%.2f,"max":%.2f,"mean":%.2f}}\n',
    summary.requests, summary.duration, summary.bytes, s3, s4, s5,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
