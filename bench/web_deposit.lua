-- wrk: a deposit POST per request with a fresh Idempotency-Key (thread, start time, counter).
-- Run with web_stats.lua appended (web.sh does): its setup gives each thread its thread_id.
local counter = 0
local started = os.time()
request = function()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", tostring(thread_id), started, counter)
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, nil, '{"amount": "1.00"}')
end
