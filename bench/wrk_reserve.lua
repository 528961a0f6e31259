-- Like wrk_report.lua, but every request gets its own body: "{unique}" in WRK_BODY is replaced by
-- a token no other request of the run (any wrk thread) uses, so each reservation names a cart of
-- its own, as real buyers do. The request() hook costs wrk some speed, which matters little at the
-- rates reservations reach.

wrk.method = os.getenv("WRK_METHOD") or "POST"
local template = os.getenv("WRK_BODY")
local prefix = os.getenv("WRK_UNIQUE_PREFIX") or tostring(os.time())
local thread_count = 0
local counter = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

function request()
  counter = counter + 1
  local unique = prefix .. "-" .. tostring(thread_id or 0) .. "-" .. tostring(counter)
  local body = template:gsub("{unique}", unique)
  return wrk.format(nil, nil, nil, body)
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
