-- wrk script: POST pre-orders with a random buyer's token, a fresh Idempotency-Key and one line.
-- Usage: wrk ... -s order.lua <url> -- <tokens file> <items file> <campaign id> [path]
-- The items file holds one item id a line; a single line means every order hits that item.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

local tokens, items, campaign, path = {}, {}, nil, nil
local counter = 0
local prefix = ""

local function read_lines(name)
  local out = {}
  for line in io.lines(name) do
    if #line > 0 then table.insert(out, line) end
  end
  return out
end

function init(args)
  tokens = read_lines(args[1])
  items = read_lines(args[2])
  campaign = args[3]
  path = args[4] or ("/api/v1/campaigns/" .. campaign .. "/orders")
  -- Keys must never repeat across threads or runs: a repeat would be answered as a retry.
  prefix = tostring(os.time()) .. "-" .. tostring(thread_id) .. "-" .. tostring(math.floor(os.clock() * 1e6))
  math.randomseed(os.time() * 100 + thread_id)
end

function request()
  counter = counter + 1
  local token = tokens[math.random(#tokens)]
  local item = items[math.random(#items)]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. "-" .. counter,
  }
  local body = '{"lines": [{"item_id": ' .. item .. ', "quantity": 1}]}'
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local p = function(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, p(50), p(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
