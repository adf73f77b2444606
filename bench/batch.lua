-- wrk script: batches of 100 structured events, every id unique.
-- HERALD_IDS=uuid sends random v4-shaped UUID ids (as real senders do)
-- instead of sequential `b<thread>-<counter>` ones.
local counter = 0
local thread_id = 0
local BATCH = 100
local UUID_IDS = os.getenv("HERALD_IDS") == "uuid"

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  tid = tonumber(tid) or 0
  -- Each thread has its own Lua state: unseeded, all would send the same ids.
  math.randomseed(os.time() * 100 + tid)
end

local function next_id()
  if UUID_IDS then
    return string.format("%08x-%04x-4%03x-8%03x-%012x", math.random(0, 0xffffffff), math.random(0, 0xffff),
      math.random(0, 0xfff), math.random(0, 0xfff), math.random(0, 0xffffffffffff))
  end
  return string.format("b%d-%d", tid, counter)
end

function request()
  local parts = {}
  for i = 1, BATCH do
    counter = counter + 1
    parts[i] = string.format(
      '{"specversion":"1.0","id":"%s","source":"/bench/wrk","type":"ai.run.progress",' ..
      '"time":"2024-05-01T12:00:00Z","datacontenttype":"application/json",' ..
      '"data":{"run_id":"00000000-0000-4000-8000-%012d","progress":0.5,"current_step":"step"}}',
      next_id(), counter % 1000)
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format("POST", "/api/ingest/event", {["Content-Type"] = "application/cloudevents-batch+json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
