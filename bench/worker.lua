-- wrk script: the load a worker fleet sends (issue 15). One structured
-- event per POST (`Content-Type: application/json`), or batches
-- (`application/cloudevents-batch+json`) of events of ONE run in `seq`
-- order. Driven by environment variables (bench/worker.sh sets them):
--
--   HERALD_MODE=single|batch   one event per request (default) or a batch
--   HERALD_BATCH=100           events per batch
--   HERALD_MIX=lifecycle|plain lifecycle (default): each run starts with
--                              ai.run.started, ends with ai.run.completed
--                              and is then replaced by a fresh run; plain:
--                              every event's type drawn from the mix, runs
--                              never end (illegal transitions are common)
--   HERALD_IDS=uuid            random v4 UUID event ids; default: ids that
--                              increase, as long as a UUID
--                              (`evt-<time hex><random>-<thread>-<n>`)
--   HERALD_RUNS=256            runs in flight per wrk thread
--   HERALD_RUN_LEN=N           events per lifecycle run (default 20 single,
--                              the batch size for batches; rounded up to a
--                              multiple of the batch size)
--   HERALD_WINDOW=S            also count acknowledged events per S-second
--                              window (for the long run)
--   HERALD_REPORT=path         write the totals as key=value lines
--   HERALD_PENDING=path        write `source<TAB>id` of every event sent but
--                              never answered (in flight when wrk stopped)
--   HERALD_LABEL=text          a name for the printed summary
--
-- Mix (per event): ai.myfeature.progress 30%, ai.run.metric 30%,
-- ai.node.completed 10%, ai.myfeature.started / .completed,
-- ai.paper.generated, ai.run.started / .completed, ai.artifact.registered
-- 5% each. With lifecycle runs of 20 events that is exact in expectation
-- (run.started is event 1, run.completed event 20, the 18 between are
-- drawn from the other 7 types by their weights). Every node, paper and
-- artifact event names a new node / paper / artifact, so run state grows.
-- Events carry the legacy nested `"extensions": {"seq": n, "traceparent":
-- "00-<trace>-<span>-01"}` (the catalog's `legacy_extensions_object`), a
-- per-run `seq` from 1, and are 490-710 bytes (mean ~550): realistic
-- optional fields (current_step, tags, uri, config, output) are filled to a
-- size drawn for each event.
--
-- Ids, run ids and the ids' nonce come from a generator seeded per thread
-- from /dev/urandom (the nonce starts with the time), so a second
-- invocation never re-sends an id or a run.

local MODE = os.getenv("HERALD_MODE") or "single"
local BATCH = tonumber(os.getenv("HERALD_BATCH") or "100")
local MIX = os.getenv("HERALD_MIX") or "lifecycle"
local UUID_IDS = os.getenv("HERALD_IDS") == "uuid"
local RUNS = tonumber(os.getenv("HERALD_RUNS") or "256")
local WINDOW = tonumber(os.getenv("HERALD_WINDOW") or "0")
local REPORT = os.getenv("HERALD_REPORT")
local PENDING = os.getenv("HERALD_PENDING")
local LABEL = os.getenv("HERALD_LABEL") or (MODE .. " " .. MIX)
local PER_REQUEST = MODE == "batch" and BATCH or 1
local RUN_LEN = tonumber(os.getenv("HERALD_RUN_LEN") or (MODE == "batch" and BATCH or 20))
if MODE == "batch" then
  RUN_LEN = math.ceil(RUN_LEN / BATCH) * BATCH
end
if MODE ~= "single" and MODE ~= "batch" then error("HERALD_MODE must be single or batch") end
if MIX ~= "lifecycle" and MIX ~= "plain" then error("HERALD_MIX must be lifecycle or plain") end
if RUN_LEN < 3 then error("HERALD_RUN_LEN must be at least 3") end

-- ── clock (ms precision through LuaJIT's ffi when available) ─────────────
local now = os.time
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    local defined = pcall(ffi.cdef, [[
      typedef struct { long tv_sec; long tv_nsec; } herald_timespec;
      int clock_gettime(int clk, herald_timespec *ts);
    ]])
    if defined then
      local ts = ffi.new("herald_timespec")
      now = function()
        ffi.C.clock_gettime(0, ts)
        return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
      end
    end
  end
end

-- ── per-thread state ─────────────────────────────────────────────────────
local threads = {}
local thread_count = 0
local t0_main = now()

function setup(thread)
  thread:set("tid", thread_count)
  thread:set("t0", t0_main)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- Totals, read by done() through thread:get.
sent_events, sent_requests, answered_requests, answered_events = 0, 0, 0, 0
acked, duplicates, invalid, error_responses, error_events = 0, 0, 0, 0, 0
st_applied, st_parked, st_stale, st_illegal = 0, 0, 0, 0
size_sum, size_min, size_max = 0, 1e9, 0
type_counts = {}
windows = {}
pending = {} -- first id of the request -> "source\tid" lines of its events

local random = math.random
local fmt = string.format
local source
local nonce
local counter = 0
local errors_shown = 0

local function r16() return random(0, 0xffff) end

local function uuid4()
  return fmt("%04x%04x-%04x-4%03x-%x%03x-%04x%04x%04x",
    r16(), r16(), r16(), random(0, 0xfff), random(8, 11), random(0, 0xfff), r16(), r16(), r16())
end

local function hex(n4) -- 4 * n4 hex digits
  local t = {}
  for i = 1, n4 do t[i] = fmt("%04x", r16()) end
  return table.concat(t)
end

local function seed()
  local f = io.open("/dev/urandom", "rb")
  local n = 0
  if f then
    local s = f:read(6)
    f:close()
    for i = 1, #s do n = n * 256 + s:byte(i) end
  end
  return n + (tonumber(tid) or 0) + os.time() % 1000000 * 1e6
end

-- ── realistic text, sliced to the length an event needs ───────────────────
local TEXT = "retrieving candidate papers from the semantic index for the query on sparse retrieval " ..
  "for long-context agents, ranking 48 candidates by citation overlap and embedding similarity; " ..
  "summarizing the top 12 into structured notes with claims, methods, datasets and reported metrics; " ..
  "drafting section 3 (related work) and checking every citation against the bibliography; " ..
  "rendering figure 3 (ablation over context length 4k to 128k) and verifying axis labels, captions " ..
  "and units; scoring hypotheses against experiment outcomes and recording the evidence for each node " ..
  "of the execution graph; uploading intermediate artifacts to object storage and registering their " ..
  "checksums; re-running the failed evaluation shard with a smaller batch after a rate limit from the " ..
  "model API; merging reviewer comments into the draft and regenerating the abstract and conclusion; " ..
  "comparing the reranker against the BM25 baseline on the held-out split and logging recall at 10 and 100"
local SLUG = TEXT:gsub("[^%w]+", "-"):lower()
local WORD_STARTS = {}
for i = 1, #TEXT - 320 do
  if i == 1 or TEXT:sub(i - 1, i - 1) == " " then table.insert(WORD_STARTS, i) end
end
local SLUG_STARTS = {}
for i = 1, #SLUG - 320 do
  if i == 1 or SLUG:sub(i - 1, i - 1) == "-" then table.insert(SLUG_STARTS, i) end
end

local function text(n, min)
  if n < min then n = min end
  local s = WORD_STARTS[random(#WORD_STARTS)]
  return (TEXT:sub(s, s + n - 1):gsub(" $", "."))
end

local function slug(n, min)
  if n < min then n = min end
  local s = SLUG_STARTS[random(#SLUG_STARTS)]
  return (SLUG:sub(s, s + n - 1):gsub("%-$", "x"))
end

-- Body size drawn as 490 + 220 * u^4 (u uniform): 490-710; the events whose
-- natural size is above the draw keep it, so the mean comes out near 550.
local function target_size()
  return 490 + math.floor(220 * random() ^ 4)
end

local FEATURES = { "literature_review", "hypothesis_generation", "experiment_planner", "citation_checker",
  "figure_renderer", "section_drafter", "reranker_eval", "abstract_writer" }
local MODELS = { "gpt-4o-2024-08-06", "claude-3-5-sonnet", "llama-3.1-70b-instruct", "mistral-large-2407" }
local METRICS = {
  { "tokens_per_second", "tok/s", 40, 900 }, { "latency_ms", "ms", 80, 9000 }, { "cost_usd", "USD", 0, 3 },
  { "prompt_tokens", "tokens", 200, 60000 }, { "completion_tokens", "tokens", 20, 4000 },
  { "gpu_memory_gb", "GB", 4, 80 }, { "retrieval_recall_at_10", "ratio", 0, 1 }, { "cache_hit_rate", "ratio", 0, 1 },
}
local KINDS = { { "figure", "png" }, { "table", "csv" }, { "dataset", "parquet" }, { "checkpoint", "safetensors" },
  { "log", "jsonl" } }
local PIPELINES = { "paper-generation", "literature-survey", "experiment-replication" }

-- ── runs ─────────────────────────────────────────────────────────────────
local runs = {}
local next_slot = 0

local function new_run(len)
  return {
    id = uuid4(), seq = 0, len = len or RUN_LEN, trace = hex(8), feature = 0, fprog = 0, nodes = 0, papers = 0,
    model = MODELS[random(#MODELS)], pipeline = PIPELINES[random(#PIPELINES)],
  }
end

-- Types and weights. Lifecycle runs draw their middle events from the
-- first 7 (run.started / run.completed are their first and last event).
local MIDDLE = {
  { "ai.myfeature.progress", 30 }, { "ai.run.metric", 30 }, { "ai.node.completed", 10 },
  { "ai.myfeature.started", 5 }, { "ai.myfeature.completed", 5 }, { "ai.paper.generated", 5 },
  { "ai.artifact.registered", 5 },
}
local ALL = { { "ai.run.started", 5 }, { "ai.run.completed", 5 } }
for _, t in ipairs(MIDDLE) do table.insert(ALL, t) end

local function draw(tbl)
  local total = 0
  for _, t in ipairs(tbl) do total = total + t[2] end
  local r = random() * total
  for _, t in ipairs(tbl) do
    r = r - t[2]
    if r < 0 then return t[1] end
  end
  return tbl[#tbl][1]
end

local function next_type(run)
  if MIX == "plain" then return draw(ALL) end
  if run.seq == 1 then return "ai.run.started" end
  if run.seq == run.len then return "ai.run.completed" end
  return draw(MIDDLE)
end

local last_sec, last_stamp = -1, ""
local function timestamp()
  local t = now()
  local sec = math.floor(t)
  if sec ~= last_sec then
    last_sec, last_stamp = sec, os.date("!%Y-%m-%dT%H:%M:%S", sec)
  end
  return fmt("%s.%03dZ", last_stamp, math.floor((t - sec) * 1000))
end

local function feature_name(run)
  return FEATURES[run.feature % #FEATURES + 1]
end

-- Each builder returns the data object as (head, pad_fn, min_pad, tail):
-- the event is head .. pad_fn(need) .. tail, `need` chosen so that the
-- whole body reaches the drawn size. pad_fn nil: no padding field.
local BUILD = {}

BUILD["ai.myfeature.progress"] = function(run, r)
  run.fprog = math.min(1, run.fprog + random() * 0.15)
  return fmt('{"run_id":"%s","feature_name":"%s","progress":%.3f,"total_steps":%d,"current_step":"',
    r, feature_name(run), run.fprog, random(4, 12)), text, 12, '"}'
end

BUILD["ai.run.metric"] = function(run, r)
  local m = METRICS[random(#METRICS)]
  return fmt('{"run_id":"%s","metric_name":"%s","value":%.3f,"unit":"%s","tags":{"model":"%s","note":"',
    r, m[1], m[3] + random() * (m[4] - m[3]), m[2], run.model), text, 8, '"}}'
end

BUILD["ai.node.completed"] = function(run, r)
  run.nodes = run.nodes + 1
  local ok = random() < 0.9
  return fmt('{"run_id":"%s","node_id":"node-%05d","result":"%s","score":%.3f,"output":{"tokens":%d,"summary":"',
    r, run.nodes, ok and "success" or "failure", random(), random(100, 8000)), text, 16, '"}}'
end

BUILD["ai.myfeature.started"] = function(run, r)
  run.feature = run.feature + 1
  run.fprog = 0
  return fmt('{"run_id":"%s","feature_name":"%s","config":{"threshold":%.2f,"max_items":%d,"instructions":"',
    r, feature_name(run), random(), random(5, 200)), text, 8, '"}}'
end

BUILD["ai.myfeature.completed"] = function(run, r)
  local head = fmt('{"run_id":"%s","feature_name":"%s","result":"%s","metrics":{"duration_ms":%d,"items_processed":%d}',
    r, feature_name(run), random() < 0.9 and "success" or "failure", random(500, 600000), random(1, 200))
  if head:find('"failure"', 1, true) then
    return head .. ',"error_message":"', text, 16, '"}'
  end
  return head, nil, 0, "}"
end

BUILD["ai.paper.generated"] = function(run, r)
  run.papers = run.papers + 1
  return fmt('{"run_id":"%s","paper_id":"paper-%04d","page_count":%d,"uri":"s3://herald-artifacts/runs/%s/papers/%04d-',
    r, run.papers, random(4, 40), r:sub(1, 8), run.papers), slug, 8, '.pdf"}'
end

BUILD["ai.run.started"] = function(run, r)
  return fmt('{"run_id":"%s","pipeline":"%s","config":{"model":"%s","max_iterations":%d,"topic":"',
    r, run.pipeline, run.model, random(3, 10)), text, 8, '"}}'
end

BUILD["ai.run.completed"] = function(run, r)
  local head = fmt('{"run_id":"%s","result":"%s","metrics":{"duration_ms":%.1f,"items_processed":%d}',
    r, random() < 0.9 and "success" or "failure", 60000 + random() * 3.54e6, random(1, 500))
  if head:find('"failure"', 1, true) then
    return head .. ',"error_message":"', text, 16, '"}'
  end
  return head, nil, 0, "}"
end

BUILD["ai.artifact.registered"] = function(run, r)
  local k = KINDS[random(#KINDS)]
  local sha = random() < 0.5 and fmt(',"sha256":"%s"', hex(16)) or ""
  return fmt('{"run_id":"%s","artifact_id":"%s","kind":"%s","size_bytes":%d%s,' ..
    '"uri":"https://artifacts.example.com/runs/%s/', r, uuid4(), k[1], random(1000, 50000000), sha, r:sub(1, 8)),
    slug, 8, "." .. k[2] .. '"}'
end

local function next_id()
  counter = counter + 1
  if UUID_IDS then return uuid4() end
  return fmt("evt-%s-%015d", nonce, counter) -- as long as a UUID
end

-- One event of `run` (its seq already advanced).
local function event(run)
  local ty = next_type(run)
  local id = next_id()
  local head, pad, min, tail = BUILD[ty](run, run.id)
  local pre = fmt('{"specversion":"1.0","id":"%s","source":"%s","type":"%s","subject":"run/%s","time":"%s",' ..
    '"datacontenttype":"application/json","extensions":{"seq":%d,"traceparent":"00-%s-%s-01"},"data":%s',
    id, source, ty, run.id, timestamp(), run.seq, run.trace, hex(4), head)
  local body
  if pad then
    body = pre .. pad(target_size() - #pre - #tail - 1, min) .. tail .. "}"
  else
    body = pre .. tail .. "}"
  end
  local n = #body
  size_sum = size_sum + n
  if n < size_min then size_min = n end
  if n > size_max then size_max = n end
  type_counts[ty] = (type_counts[ty] or 0) + 1
  return body, id
end

-- The run of the slot whose turn it is (slots in turn, so a run's
-- consecutive events are RUNS requests apart and not in flight together).
local function take_run()
  next_slot = next_slot % RUNS + 1
  local run = runs[next_slot]
  if MIX == "lifecycle" and run.seq >= run.len then
    run = new_run()
    runs[next_slot] = run
  end
  return run
end

function init(args)
  tid = tonumber(tid) or 0
  t0 = tonumber(t0) or now()
  math.randomseed(seed())
  nonce = fmt("%08x%06x-%d", os.time(), random(0, 0xffffff), tid)
  source = fmt("/workers/gpu-pool-us-east-1/worker-%02d", tid)
  -- Single events: the first runs of the slots have lengths RUN_LEN, RUN_LEN - 1,
  -- ..., 3, so that the slots' lifecycles do not stay in step (all runs
  -- starting, then all completing, together).
  for i = 1, RUNS do
    runs[i] = new_run(MODE == "single" and RUN_LEN - (i - 1) % (RUN_LEN - 2) or RUN_LEN)
  end
end

local HEADERS_SINGLE = { ["Content-Type"] = "application/json" }
local HEADERS_BATCH = { ["Content-Type"] = "application/cloudevents-batch+json" }

-- wrk 4.1 calls request() once on thread 0 before the test starts (to
-- count pipelined requests) and throws the result away. Sent for real, the
-- next call would skip that event: its run would miss a `seq` (parked
-- until the gap timeout) and, in lifecycle mode, its ai.run.started. So
-- thread 0's first request is built once and returned again by the second
-- call. (A wrk that sent both would show up as duplicates: a FAIL.)
local replay, replayed = nil, false
local build_request

function request()
  if replay then
    local r = replay
    replay = nil
    return r
  end
  local r = build_request()
  if tid == 0 and not replayed then
    replayed, replay = true, r
  end
  return r
end

build_request = function()
  local run = take_run()
  sent_requests = sent_requests + 1
  sent_events = sent_events + PER_REQUEST
  if MODE == "single" then
    run.seq = run.seq + 1
    local body, id = event(run)
    pending[id] = source .. "\t" .. id
    return wrk.format("POST", "/api/ingest/event", HEADERS_SINGLE, body)
  end
  local parts, ids = {}, {}
  for i = 1, BATCH do
    run.seq = run.seq + 1
    local body, id = event(run)
    parts[i] = body
    ids[i] = source .. "\t" .. id
  end
  pending[ids[1]:sub(#source + 2)] = table.concat(ids, "\n")
  return wrk.format("POST", "/api/ingest/event", HEADERS_BATCH, "[" .. table.concat(parts, ",") .. "]")
end

local function show_error(what)
  if errors_shown < 5 then
    errors_shown = errors_shown + 1
    io.stderr:write(fmt("[%s thread %d] %s\n", LABEL, tid, what))
  end
end

local function count_status(st)
  if st == "duplicate" then
    duplicates = duplicates + 1
    return 0
  elseif st == "applied" then st_applied = st_applied + 1
  elseif st == "parked" then st_parked = st_parked + 1
  elseif st == "stale" then st_stale = st_stale + 1
  elseif st == "illegal_transition" then st_illegal = st_illegal + 1
  else return nil
  end
  acked = acked + 1
  return 1
end

function response(status, headers, body)
  answered_requests = answered_requests + 1
  answered_events = answered_events + PER_REQUEST
  local first = body:match('"id":"([^"]*)"')
  if first then pending[first] = nil end
  local ok = 0
  if MODE == "single" then
    if status == 200 or status == 202 then
      local st = body:match('"status":"([%w_]+)"')
      local n = count_status(st)
      if n == nil then
        error_responses, error_events = error_responses + 1, error_events + 1
        show_error(fmt("status %d with an unknown outcome: %s", status, body:sub(1, 400)))
      else
        ok = n
      end
    else
      error_responses, error_events = error_responses + 1, error_events + 1
      show_error(fmt("status %d: %s", status, body:sub(1, 600)))
    end
  elseif status == 200 then
    local seen = 0
    for st in body:gmatch('"status":"([%w_]+)"') do
      seen = seen + 1
      local n = count_status(st)
      if n == nil then
        invalid = invalid + 1
        if st == "invalid" then
          local at = body:find('"status":"invalid"', 1, true)
          show_error("invalid element: " .. body:sub(math.max(1, at - 300), at + 300))
        end
      else
        ok = ok + n
      end
    end
    if seen ~= BATCH then
      show_error(fmt("batch answered with %d results, sent %d: %s", seen, BATCH, body:sub(1, 300)))
    end
  else
    error_responses, error_events = error_responses + 1, error_events + BATCH
    show_error(fmt("status %d: %s", status, body:sub(1, 600)))
  end
  if WINDOW > 0 and ok > 0 then
    local w = math.floor((now() - t0) / WINDOW)
    windows[w] = (windows[w] or 0) + ok
  end
end

local KEYS = { "sent_events", "sent_requests", "answered_requests", "answered_events", "acked", "duplicates",
  "invalid", "error_responses", "error_events", "st_applied", "st_parked", "st_stale", "st_illegal", "size_sum" }

function done(summary, latency, requests)
  local tot = { size_min = 1e9, size_max = 0 }
  for _, k in ipairs(KEYS) do tot[k] = 0 end
  local types, wins, pend = {}, {}, {}
  for _, t in ipairs(threads) do
    for _, k in ipairs(KEYS) do tot[k] = tot[k] + (tonumber(t:get(k)) or 0) end
    tot.size_min = math.min(tot.size_min, t:get("size_min") or 1e9)
    tot.size_max = math.max(tot.size_max, t:get("size_max") or 0)
    for k, v in pairs(t:get("type_counts") or {}) do types[k] = (types[k] or 0) + v end
    for k, v in pairs(t:get("windows") or {}) do wins[k] = (wins[k] or 0) + v end
    for _, v in pairs(t:get("pending") or {}) do table.insert(pend, v) end
  end
  local secs = summary.duration / 1e6
  local unanswered = tot.sent_events - tot.answered_events
  local rate = tot.acked / secs
  local p = function(...) io.write(fmt(...)) end
  p("-- %s: mix=%s ids=%s mode=%s%s, %.2f s\n", LABEL, MIX, UUID_IDS and "uuid" or "sequential", MODE,
    MODE == "batch" and fmt(" (%d events of one run per request)", BATCH) or "", secs)
  p("   sent       %d events in %d requests; answered %d requests; %d events unanswered when wrk stopped\n",
    tot.sent_events, tot.sent_requests, tot.answered_requests, unanswered)
  p("   acked      %d events (2xx, stored): applied %d, parked %d, stale %d, illegal_transition %d\n",
    tot.acked, tot.st_applied, tot.st_parked, tot.st_stale, tot.st_illegal)
  p("   duplicate  %d   invalid elements %d   error responses %d (%d events)\n",
    tot.duplicates, tot.invalid, tot.error_responses, tot.error_events)
  p("   rate       %.0f acknowledged non-duplicate events/s (%.0f requests/s)\n", rate, tot.answered_requests / secs)
  if tot.sent_events > 0 then
    p("   bodies     %.0f B mean per event (min %d, max %d)\n", tot.size_sum / tot.sent_events, tot.size_min, tot.size_max)
  end
  local names = {}
  for k in pairs(types) do table.insert(names, k) end
  table.sort(names, function(a, b) return types[a] > types[b] end)
  local mix = {}
  for _, k in ipairs(names) do table.insert(mix, fmt("%s %.1f%%", k:sub(4), 100 * types[k] / tot.sent_events)) end
  p("   mix        %s\n", table.concat(mix, ", "))
  local win_rates = {}
  if WINDOW > 0 then
    local last = -1
    for k in pairs(wins) do if k > last then last = k end end
    for w = 0, last do
      local len = math.min(WINDOW, secs - w * WINDOW)
      if len > 0.5 then
        local r = (wins[w] or 0) / len
        table.insert(win_rates, fmt("%.0f", r))
        p("   window %2d  %5.0f-%-5.0f s: %.0f events/s\n", w + 1, w * WINDOW, w * WINDOW + len, r)
      end
    end
  end
  if REPORT then
    local f = assert(io.open(REPORT, "w"))
    for _, k in ipairs(KEYS) do f:write(fmt("%s=%d\n", k, tot[k])) end
    f:write(fmt("seconds=%.3f\nrate=%.1f\nrequests_per_s=%.1f\nwindows=%s\n", secs, rate,
      tot.answered_requests / secs, table.concat(win_rates, ",")))
    f:close()
  end
  if PENDING then
    local f = assert(io.open(PENDING, "w"))
    for _, v in ipairs(pend) do f:write(v, "\n") end
    f:close()
  end
end
