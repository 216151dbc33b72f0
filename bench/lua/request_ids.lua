-- Prepended to every scenario by bench/wrk.py: each request carries an
-- X-Request-ID unique to the benchmark (RUN_ID is filled in), so that the audit
-- trail can be checked for exactly one row per request.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local sent = 0
function request_id()
  sent = sent + 1
  return "RUN_ID-" .. thread_number .. "-" .. sent
end
