-- wrk: a deposit POST per request with a fresh Idempotency-Key (thread, start time, counter).
local counter = 0
local started = os.time()
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
request = function()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", tostring(thread_id), started, counter)
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, nil, '{"amount": "1.00"}')
end
