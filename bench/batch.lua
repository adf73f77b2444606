-- wrk script: batches of 100 structured events, every id unique, also
-- across invocations against the same server (ids carry a per-invocation
-- nonce, and the generator is seeded from /dev/urandom).
-- HERALD_IDS=uuid sends random v4-shaped UUID ids (as real senders do)
-- instead of sequential `b<nonce>-<thread>-<counter>` ones.
local counter = 0
local thread_id = 0
local nonce
local BATCH = 100
local UUID_IDS = os.getenv("HERALD_IDS") == "uuid"

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  tid = tonumber(tid) or 0
  -- Each thread has its own Lua state: unseeded, all would send the same
  -- ids; seeded from the clock alone, two invocations in the same second
  -- would too.
  local seed = os.time() % 1000000 * 1e6 + tid
  local f = io.open("/dev/urandom", "rb")
  if f then
    for c in f:read(6):gmatch(".") do seed = seed * 256 % 2 ^ 52 + c:byte() end
    f:close()
  end
  math.randomseed(seed)
  -- Time first, so a later invocation's sequential ids sort after earlier ones.
  nonce = string.format("%08x%06x", os.time(), math.random(0, 0xffffff))
end

local function next_id()
  if UUID_IDS then
    return string.format("%08x-%04x-4%03x-8%03x-%012x", math.random(0, 0xffffffff), math.random(0, 0xffff),
      math.random(0, 0xfff), math.random(0, 0xfff), math.random(0, 0xffffffffffff))
  end
  return string.format("b%s-%d-%d", nonce, tid, counter)
end

function request()
  local parts = {}
  for i = 1, BATCH do
    counter = counter + 1
    parts[i] = string.format(
      '{"specversion":"1.0","id":"%s","source":"/bench/wrk","type":"ai.run.progress",' ..
      '"subject":"run/00000000-0000-4000-8000-%012d","time":"2024-05-01T12:00:00Z","datacontenttype":"application/json",' ..
      '"data":{"run_id":"00000000-0000-4000-8000-%012d","progress":0.5,"current_step":"step"}}',
      next_id(), counter % 1000, counter % 1000)
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format("POST", "/api/ingest/event", {["Content-Type"] = "application/cloudevents-batch+json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
  end
end
