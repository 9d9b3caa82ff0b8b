-- wrk script: GET one path (as a visitor, or with a session cookie as a logged-in buyer) and print the figures
-- run.py reads, as bench/orders/order.lua does.
-- Usage: wrk ... -s page.lua <url> -- <path> [<session cookie>]

local path, headers = "/", {}

function init(args)
  path = args[1] or "/"
  if args[2] then headers["Cookie"] = "session=" .. args[2] end
end

function request()
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local p = function(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, p(50), p(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
