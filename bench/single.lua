-- wrk script: one structured event per request, every id unique (so none
-- is deduplicated away), spread over 1000 runs without `seq`.
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  tid = tonumber(tid) or 0
end

local function run_id(n)
  return string.format("00000000-0000-4000-8000-%012d", n % 1000)
end

function request()
  counter = counter + 1
  local run = run_id(counter)
  local body = string.format(
    '{"specversion":"1.0","id":"w%d-%d","source":"/bench/wrk","type":"ai.run.progress","subject":"run/%s",' ..
    '"time":"2024-05-01T12:00:00Z","datacontenttype":"application/json",' ..
    '"data":{"run_id":"%s","progress":0.5,"current_step":"step"}}',
    tid, counter, run, run)
  return wrk.format("POST", "/api/ingest/event", {["Content-Type"] = "application/cloudevents+json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
