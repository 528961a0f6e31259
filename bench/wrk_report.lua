-- One wrk script for every endpoint in bench/run.py's table: the request shape comes from the
-- environment, and done() prints one JSON line that run.py parses (wrk's own text is for humans).
-- No request()/response() hooks: defining them would take wrk off its pre-built-request fast path
-- and make the load generator, not the server, the bottleneck.

wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
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
