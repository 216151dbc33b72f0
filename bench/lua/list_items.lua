-- GET /items?limit=100, from random points of the keyset (FIRST_ID, LAST_ID filled in).
local first_id, last_id = FIRST_ID, LAST_ID
request = function()
  return wrk.format("GET", "/items?limit=100&after=" .. math.random(first_id - 1, last_id - 100),
    {["X-Request-ID"] = request_id()})
end
