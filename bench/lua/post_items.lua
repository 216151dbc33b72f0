-- POST /items with a JSON body like a real client's.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/items",
    {["Content-Type"] = "application/json", ["X-Request-ID"] = request_id()},
    string.format('{"name": "bench item %d", "description": "created by the benchmark"}', counter))
end
