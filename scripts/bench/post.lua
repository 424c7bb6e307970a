-- wrk script for session creation: POST /v1/sessions with a new 6 h session
-- (360 minutes x energy, power and SoC = 1,080 readings, ~100 KB of JSON).
--
-- Usage: wrk ... -s post.lua URL -- TEMPLATE_DIR VARIANTS RUN_TAG
--   TEMPLATE_DIR  holds post-<k>.json from `seed.py post-templates`, with the
--                 placeholders @STATION@ and @SESSION@
--   VARIANTS      how many post-<k>.json there are
--   RUN_TAG       makes session ids unique across runs on one database
--
-- The bodies are pre-generated: building 1,080 readings per request in Lua
-- would cost the load generator, which shares the 2 cores with the server,
-- more than the server's own work. Only the ids change per request, so every
-- request creates a new session instead of upserting an existing one.

wrk.method = "POST"
wrk.path = "/v1/sessions"
wrk.headers["Content-Type"] = "application/json"

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

local function split(text, marker)
  local i, j = string.find(text, marker, 1, true)
  assert(i, "template lacks " .. marker)
  return string.sub(text, 1, i - 1), string.sub(text, j + 1)
end

function init(args)
  local dir, variants = args[1], tonumber(args[2])
  run_tag = args[3]
  templates = {}
  for k = 0, variants - 1 do
    local f = assert(io.open(dir .. "/post-" .. k .. ".json"))
    local text = f:read("*a")
    f:close()
    -- The template puts the station before the session id.
    local head, rest = split(text, "@STATION@")
    local middle, tail = split(rest, "@SESSION@")
    table.insert(templates, { head, middle, tail })
  end
  n = 0
  non200 = 0
  statuses = {}
  -- wrk's thread:get() crashes copying tables, so done() gets strings.
  statuses_text = ""
  first_error = ""
end

function request()
  if templates == nil then -- wrk's check in the main state; nothing is sent
    return wrk.format(nil, nil, nil, "{}")
  end
  n = n + 1
  local t = templates[n % #templates + 1]
  local station = string.format("bench-post-st-%03d", n % 250)
  local session = string.format("bench-post-%s-t%d-%d", run_tag, thread_index, n)
  return wrk.format(nil, nil, nil, t[1] .. station .. t[2] .. session .. t[3])
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
    local parts = {}
    for code, c in pairs(statuses) do table.insert(parts, code .. "=" .. c) end
    statuses_text = table.concat(parts, ",")
    if first_error == "" then
      first_error = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local sent, non200_total, codes, first = 0, 0, {}, ""
  for _, t in ipairs(threads) do
    sent = sent + t:get("n")
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
  print(string.format("RESULT requests=%d sent=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d non200=%d",
    summary.requests, sent, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99), latency.max, non200_total))
  print(string.format("RESULT_ERRORS connect=%d read=%d write=%d timeout=%d codes=%s",
    e.connect, e.read, e.write, e.timeout, table.concat(code_list, ",")))
  if first ~= "" then print("RESULT_FIRST_ERROR " .. first) end
end
