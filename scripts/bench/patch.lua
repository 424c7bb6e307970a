-- wrk script for the hot path: PATCH /v1/sessions/<id> appending ONE reading
-- (the next minute's sample: energy register, power and SoC, the measurands
-- the session was seeded with) to a live session.
--
-- Usage: wrk ... -s patch.lua URL -- STATE_IN STATE_OUT THREADS
--   STATE_IN   sessions to continue (written by seed.py or a previous run)
--   STATE_OUT  where done() writes where each session stopped, so a second
--              run continues the same sessions instead of re-sending minutes
--   THREADS    wrk's -t, to split the sessions between threads
--
-- Each wrk thread owns a disjoint slice of the sessions (session index modulo
-- THREADS), so two threads never send the same session + timestamp. Within a
-- thread the sessions are visited round-robin: with many more sessions than
-- connections, one session never has two requests in flight and its readings
-- arrive in order, one minute apart, like a charge point sampling each minute.

local EFFICIENCY = 0.92 -- keep in sync with seed.py

wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"

-- Same charging model as seed.py: constant power below 80 % SoC, then taper.
local function true_power_kw(soc, pmax)
  if soc >= 100 then return 0 end
  if soc < 80 then return pmax end
  return pmax * math.max(0.05, (100 - soc) / 20)
end

local function advance(s)
  local p = true_power_kw(s.soc, s.pmax)
  s.energy = s.energy + p / 60
  s.soc = math.min(100, s.soc + p / 60 / s.cap * 100 * EFFICIENCY)
  s.next = s.next + 60
end

-- Sessions of thread `index` out of `nthreads`, in the order of the state
-- file; init() and done() must agree on this split.
local function load_sessions(path, index, nthreads)
  local list, i = {}, 0
  for line in io.lines(path) do
    if line:sub(1, 1) ~= "#" then
      if i % nthreads == index then
        local id, start, nxt, energy, soc, pmax, cap =
          line:match("^(%S+)\t(%d+)\t(%d+)\t(%S+)\t(%S+)\t(%S+)\t(%S+)$")
        table.insert(list, {
          id = id, start = tonumber(start), next = tonumber(nxt), energy = tonumber(energy),
          soc = tonumber(soc), pmax = tonumber(pmax), cap = tonumber(cap),
          path = "/v1/sessions/" .. id,
        })
      end
      i = i + 1
    end
  end
  return list
end

-- Runs in the main Lua state once per thread, before init().
local threads = {}
-- EVNI_BENCH_PORTS="p1 p2 ..." (set by load.sh with API_PROCESSES > 1):
-- thread i sends to 127.0.0.1:p[i mod n], one API process each.
local ports = {}
for port in (os.getenv("EVNI_BENCH_PORTS") or ""):gmatch("%d+") do table.insert(ports, port) end
function setup(thread)
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", ports[#threads % #ports + 1])[1]
  end
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  state_in, state_out, nthreads = args[1], args[2], tonumber(args[3])
  sessions = load_sessions(state_in, thread_index, nthreads)
  cursor = 0
  sent = 0
  non200 = 0
  statuses = {}
  -- wrk's thread:get() crashes copying tables, so done() gets strings.
  statuses_text = ""
  first_error = ""
end

function request()
  -- wrk also calls request() once in the main state to check that it builds
  -- a valid request; init() has not run there, and nothing is sent.
  if sessions == nil then
    return wrk.format(nil, "/v1/sessions/none", nil, "{}")
  end
  cursor = cursor % #sessions + 1
  local s = sessions[cursor]
  -- One reading: the minute's sample of all three measurands, as seeded.
  local ts = os.date("!%Y-%m-%dT%H:%M:%SZ", s.next)
  local power = true_power_kw(s.soc, s.pmax) * (0.995 + 0.01 * math.random())
  local body = string.format(
    '{"meter_values":[' ..
    '{"timestamp":"%s","measurand":"Energy.Active.Import.Register","unit":"kWh","value":%.3f},' ..
    '{"timestamp":"%s","measurand":"Power.Active.Import","unit":"kW","value":%.3f},' ..
    '{"timestamp":"%s","measurand":"SoC","unit":"Percent","value":%d}]}',
    ts, s.energy, ts, power, ts, math.floor(s.soc))
  advance(s)
  sent = sent + 1
  return wrk.format(nil, s.path, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
    local parts = {}
    for code, n in pairs(statuses) do table.insert(parts, code .. "=" .. n) end
    statuses_text = table.concat(parts, ",")
    if first_error == "" then
      first_error = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

-- Where each session stopped: a thread that sent N requests visited its K
-- sessions round-robin from the first, so session k got N / K requests, plus
-- one for the first N % K. Replaying the model that many minutes gives the
-- state the next run continues from.
local function write_state()
  local path_in, path_out = threads[1]:get("state_in"), threads[1]:get("state_out")
  local nthreads = #threads
  local by_id = {}
  for _, t in ipairs(threads) do
    local list, n = load_sessions(path_in, t:get("thread_index"), nthreads), t:get("sent")
    for k, s in ipairs(list) do
      local minutes = math.floor(n / #list) + ((k <= n % #list) and 1 or 0)
      for _ = 1, minutes do advance(s) end
      by_id[s.id] = s
    end
  end
  local f = assert(io.open(path_out, "w"))
  f:write("# id\tstart\tnext\tenergy\tsoc\tpmax\tcap\n")
  for line in io.lines(path_in) do
    local s = by_id[line:match("^(%S+)\t")]
    if s and line:sub(1, 1) ~= "#" then
      f:write(string.format("%s\t%d\t%d\t%.6f\t%.6f\t%.3f\t%.1f\n", s.id, s.start, s.next, s.energy, s.soc, s.pmax, s.cap))
    end
  end
  f:close()
end

function done(summary, latency, requests)
  write_state()
  local sent_total, non200_total, codes, first = 0, 0, {}, ""
  for _, t in ipairs(threads) do
    sent_total = sent_total + t:get("sent")
    non200_total = non200_total + t:get("non200")
    for code, count in string.gmatch(t:get("statuses_text"), "(%d+)=(%d+)") do
      codes[code] = (codes[code] or 0) + tonumber(count)
    end
    if first == "" then first = t:get("first_error") end
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local code_list = {}
  for code, count in pairs(codes) do table.insert(code_list, code .. "=" .. count) end
  -- Machine-readable lines for load.sh; latencies in microseconds.
  print(string.format("RESULT requests=%d sent=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d non200=%d",
    summary.requests, sent_total, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), latency.max, non200_total))
  print(string.format("RESULT_ERRORS connect=%d read=%d write=%d timeout=%d codes=%s",
    e.connect, e.read, e.write, e.timeout, table.concat(code_list, ",")))
  if first ~= "" then print("RESULT_FIRST_ERROR " .. first) end
end
