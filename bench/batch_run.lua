-- wrk script: batches of 100 events that all belong to one run, with
-- `seq` 1..100 in order — how a worker reports a run. Every request is a
-- new run, every id unique.
local requests = 0
local thread_id = 0
local BATCH = 100

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  tid = tonumber(tid) or 0
end

function request()
  requests = requests + 1
  local run = string.format("00000000-0000-4%03d-8000-%012d", tid, requests)
  local parts = {}
  for i = 1, BATCH do
    parts[i] = string.format(
      '{"specversion":"1.0","id":"r%d-%d-%d","source":"/bench/wrk","type":"ai.run.progress","subject":"run/%s",' ..
      '"time":"2024-05-01T12:00:00Z","datacontenttype":"application/json","seq":%d,' ..
      '"data":{"run_id":"%s","progress":%.2f,"current_step":"step"}}',
      tid, requests, i, run, i, run, i / BATCH)
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format("POST", "/api/ingest/event", {["Content-Type"] = "application/cloudevents-batch+json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
