-- wrk: one line "STATS p50_ms p95_ms p99_ms requests_per_s non_2xx" when the run ends.
-- wrk's own error count leaves out redirects (it counts statuses from 400), and a redirect
-- to the login page is the answer a page gives a lost session: each thread counts every
-- answer that is not a 2xx itself. Every thread gets an id (web_deposit.lua uses it).
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end
init = function(args)
  not_2xx = 0
end
response = function(status, headers, body)
  if status < 200 or status > 299 then
    not_2xx = not_2xx + 1
  end
end
done = function(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("not_2xx")
  end
  io.write(string.format("STATS %.2f %.2f %.2f %.1f %d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6), bad))
end
