-- A mixed workload: 60% GET /items/{id}, 20% POST /items, 10% PUT /items/{id},
-- 10% GET /items?limit=100 (FIRST_ID and LAST_ID are filled in by bench/wrk.py).
local first_id, last_id = FIRST_ID, LAST_ID
local counter = 0
request = function()
  counter = counter + 1
  local pick = math.random(1, 10)
  local id = math.random(first_id, last_id)
  local json = {["Content-Type"] = "application/json", ["X-Request-ID"] = request_id()}
  if pick <= 6 then
    return wrk.format("GET", "/items/" .. id, {["X-Request-ID"] = json["X-Request-ID"]})
  elseif pick <= 8 then
    return wrk.format("POST", "/items", json,
      string.format('{"name": "mixed item %d", "description": "created by the benchmark"}', counter))
  elseif pick == 9 then
    return wrk.format("PUT", "/items/" .. id, json,
      string.format('{"name": "renamed %d", "description": "updated by the benchmark"}', counter))
  end
  return wrk.format("GET", "/items?limit=100&after=" .. math.random(first_id - 1, last_id - 100),
    {["X-Request-ID"] = json["X-Request-ID"]})
end
