-- Like wrk_report.lua, but each request takes the next path from a file (WRK_PATHS_FILE, one per
-- line, starting at line WRK_PATHS_OFFSET): a different product every request, so the server's
-- cache cannot answer and the figure is the uncached path. The request() hook costs wrk some speed,
-- which matters little at the rates the uncached path reaches.

wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body  -- the same body to every path (a line added to a different cart each request)
end
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS_FILE")) do
  paths[#paths + 1] = line
end
local index = tonumber(os.getenv("WRK_PATHS_OFFSET") or "0") % #paths

function request()
  index = index % #paths + 1
  return wrk.format(nil, paths[index])
end

function done(summary, latency, requests)
  local e = summary.errors
  local ms = function(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"mean":%.3f,"max":%.3f},'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    ms(50), ms(90), ms(99), latency.mean / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
