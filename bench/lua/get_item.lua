-- GET /items/{id} over ids that exist (FIRST_ID and LAST_ID are filled in by bench/wrk.py).
local first_id, last_id = FIRST_ID, LAST_ID
request = function()
  return wrk.format("GET", "/items/" .. math.random(first_id, last_id),
    {["X-Request-ID"] = request_id()})
end
