-- wrk script: GET one path (as a visitor: no cookie) and print the figures run.py reads, as bench/orders/order.lua does.
-- Usage: wrk ... -s page.lua <url> -- <path>

local path = "/"

function init(args)
  path = args[1] or "/"
end

function request()
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local p = function(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, p(50), p(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
