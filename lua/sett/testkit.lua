-- require "sett.testkit": unit-test a policy file with busted, without a gateway.
--
--   local kit = require "sett.testkit"
--   local pol = kit.load("policies/mine.lua")
--   local kind, target = kit.route(pol, { url = "/rooms/blue", host = "chat.example.com" })
--   assert.are.equal("create", kind)
--
-- Builders fill in what a spec leaves out: kit.request, kit.actor, kit.runner. The hook calls
-- (kit.route, kit.place, kit.can_hibernate, kit.timeouts, kit.auto_response, kit.authorize,
-- kit.cors) check the answers
-- exactly as the gateway does (they are the same sett.policy functions) and raise the same
-- errors. kit.call(pol, hook, ...) goes one step further and behaves like the gateway: an error
-- is logged and counted and the built-in answer comes back. Each call runs under a CPU budget
-- (kit.budget) so a runaway hook fails the spec instead of hanging it.
--
-- What the policy sees of sett (sett.log, sett.now, metrics, sett.actors, sett.runners) is the
-- in-memory stand-in: kit.logs, kit.clock, kit.metric, and the actors and runners built here.
local P = require "sett.policy"
local sett = require "sett"
local json = require "sett.json"
local timer = require "sett.timer"
local hibernation = require "sett.hibernation"

local kit = { policy = P, sett = sett }

local type, pairs, ipairs, tostring, error, format = type, pairs, ipairs, tostring, error, string.format

local function fake() return rawget(sett, "_fake") end

local function check_fields(what, t, known)
  for k in pairs(t) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      error(format("%s: unknown field %s (known: %s)", what, tostring(k), table.concat(names, ", ")), 3)
    end
  end
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

---------------------------------------------------------------------------------------------------
-- Loading

-- Loads a policy file through sett.policy (fresh sandbox, checks, self_test); raises with the
-- loader's message when the file is refused. opts as P.load.
function kit.load(path, opts)
  local pol, err = P.load(path, opts)
  if not pol then error("kit.load: " .. tostring(err), 2) end
  return pol
end

-- The same from source text.
function kit.load_string(src, name, opts)
  local pol, err = P.load_string(src, name, opts)
  if not pol then error("kit.load_string: " .. tostring(err), 2) end
  return pol
end

-- Like kit.load and kit.load_string but return nil and the message: for specs of refusals.
kit.try_load = P.load
kit.try_load_string = P.load_string

---------------------------------------------------------------------------------------------------
-- Builders

local REQUEST = set_of({ "method", "url", "path", "query", "headers", "host", "peer", "ctx" })

-- The requests kit.request built: given one again, it comes back as it is, so that the ctx
-- kit.route leaves in it reaches the later hooks, as in the gateway.
local built_requests = setmetatable({}, { __mode = "k" })

-- A request as route(req) sees it. Give a URL string, or a table of: method (GET), url (a path
-- with an optional ?query) or path and query, headers (any case; values as strings), host (else
-- the host header, else "localhost"), peer ("127.0.0.1:40000").
function kit.request(t)
  if built_requests[t] then return t end
  if t == nil then t = {} end
  if type(t) == "string" then t = { url = t } end
  if type(t) ~= "table" then error("kit.request: expected a table or a URL string, got " .. type(t), 2) end
  check_fields("kit.request", t, REQUEST)
  local path, query = t.path, t.query
  if t.url ~= nil then
    if path ~= nil then error("kit.request: give url or path, not both", 2) end
    path, query = t.url:match("^([^?#]*)%??([^#]*)")
    if t.query ~= nil then query = t.query end
  end
  path = path or "/"
  if query == nil then
    local p, q = path:match("^([^?]*)%?(.*)$")
    if p then path, query = p, q end
  end
  if path:sub(1, 1) ~= "/" then error("kit.request: path must start with /, got " .. path, 2) end
  local headers = {}
  for k, v in pairs(t.headers or {}) do
    if type(k) ~= "string" then error("kit.request: header names must be strings", 2) end
    headers[k:lower()] = tostring(v)
  end
  local host = t.host or headers.host or "localhost"
  headers.host = headers.host or host
  if t.ctx ~= nil and type(t.ctx) ~= "table" then error("kit.request: ctx must be a table", 2) end
  local req = {
    method = (t.method or "GET"):upper(),
    path = path,
    query = query or "",
    headers = headers,
    host = host,
    peer = t.peer or "127.0.0.1:40000",
    ctx = t.ctx,
  }
  built_requests[req] = true
  return req
end

local ACTOR = set_of({ "id", "name", "key", "namespace", "state", "generation", "runner_id" })
local STATES = set_of({ "pending", "starting", "running", "stopping", "sleeping", "destroyed" })
local next_actor, next_runner = 0, 0

-- An actor as the hooks see it; registered so that sett.actors.get(id) finds it. A string is a
-- name. Defaults: id "actor-N", name "actor", namespace "default", state "running",
-- generation 1; key and runner_id are nil unless given.
function kit.actor(t)
  if t == nil then t = {} end
  if type(t) == "string" then t = { name = t } end
  if type(t) ~= "table" then error("kit.actor: expected a table or a name, got " .. type(t), 2) end
  check_fields("kit.actor", t, ACTOR)
  local id = t.id
  if id == nil then
    next_actor = next_actor + 1
    id = "actor-" .. next_actor
  end
  if t.state ~= nil and not STATES[t.state] then
    error("kit.actor: unknown state " .. tostring(t.state), 2)
  end
  local a = {
    id = id, name = t.name or "actor", key = t.key, namespace = t.namespace or "default",
    state = t.state or "running", generation = t.generation or 1, runner_id = t.runner_id,
  }
  local f = fake()
  if f then f.actors[id] = a end
  return a
end

local RUNNER = set_of({ "id", "name", "namespace", "version", "free_slots", "total_slots",
                        "rtt_ms", "metadata" })

-- A runner candidate as the gateway builds it for place(); registered so that
-- sett.runners.list finds it. Defaults: id "runner-N", name "runner", namespace "default",
-- version 1, total_slots 100, free_slots total_slots, rtt_ms 1. metadata: a table (sent as JSON
-- text, as a real runner's is) or a string (as is).
function kit.runner(t)
  if t == nil then t = {} end
  if type(t) == "string" then t = { name = t } end
  if type(t) ~= "table" then error("kit.runner: expected a table or a name, got " .. type(t), 2) end
  check_fields("kit.runner", t, RUNNER)
  local id = t.id
  if id == nil then
    next_runner = next_runner + 1
    id = "runner-" .. next_runner
  end
  local total = t.total_slots or 100
  local md = t.metadata
  if type(md) == "table" then md = json.encode(md) end
  local r = {
    id = id, name = t.name or "runner", namespace = t.namespace or "default",
    version = t.version or 1, total_slots = total, free_slots = t.free_slots or total,
    rtt_ms = t.rtt_ms or 1, metadata = md,
  }
  local f = fake()
  if f then
    for i, x in ipairs(f.runners) do
      if x.id == id then table.remove(f.runners, i) break end
    end
    f.runners[#f.runners + 1] = r
  end
  return r
end

-- Several runners at once: kit.runners{ {name = "a"}, {name = "b"} }.
function kit.runners(list)
  local out = {}
  for i, t in ipairs(list or {}) do out[i] = kit.runner(t) end
  return out
end

---------------------------------------------------------------------------------------------------
-- Timeouts as the gateway passes them

-- The gateway's defaults with an empty configuration: each of sett.config's TIMEOUT_BOUND_KEYS
-- with the default of the key it comes from.
kit.DEFAULT_TIMEOUTS = (function()
  local config = require "sett.config"
  local cfg = assert(config.validate({}))
  local d = {}
  for _, b in ipairs(config.TIMEOUT_BOUND_KEYS) do
    local v = cfg
    for seg in b[2]:gmatch("[^.]+") do v = v[seg] end
    d[b[1]] = v
  end
  return d
end)()

-- The bounds the gateway clamps a policy's timeouts to: a configuration's timeout_bounds
-- ({ key = { min =, max = } }, as in the configuration file) where given, else a tenth to ten
-- times each default; a minimum above the maximum raises the maximum, as in the gateway.
function kit.bounds(defaults, configured)
  local b = {}
  for k, v in pairs(defaults or kit.DEFAULT_TIMEOUTS) do
    local c = configured and configured[k] or {}
    local lo = c.min or math.floor(v / 10)
    if lo < 1 then lo = 1 end
    local hi = c.max or v * 10
    if hi < lo then hi = lo end
    b[k] = { lo, hi }
  end
  return b
end

-- kit.DEFAULT_TIMEOUTS with the given values over it (a configuration's own values).
function kit.defaults(over)
  local d = {}
  for k, v in pairs(kit.DEFAULT_TIMEOUTS) do d[k] = v end
  for k, v in pairs(over or {}) do
    if kit.DEFAULT_TIMEOUTS[k] == nil then error("kit.defaults: unknown key " .. tostring(k), 2) end
    d[k] = v
  end
  return d
end

---------------------------------------------------------------------------------------------------
-- Hook calls

local budget_ms = 50
P.budget_ms = budget_ms

-- The CPU budget of each hook call, in ms (false: none). The gateway's default
-- policy_budget_ms is 5; the kit allows 50 by default so that specs stay steady on a busy
-- machine. Returns the previous value.
function kit.budget(ms)
  local old = budget_ms
  if ms ~= nil then
    if ms ~= false and (type(ms) ~= "number" or ms <= 0) then
      error("kit.budget: expected a positive number of ms or false", 2)
    end
    budget_ms = ms
    P.budget_ms = ms
  end
  return old
end

-- Fills in the arguments of a hook call: every argument goes through its builder (a built one
-- comes out the same), so a spec may pass the fields of one, or a name or URL string.
local function prepare(hook, ...)
  if hook == "route" or hook == "cors" then
    local req = ...
    return kit.request(req)
  elseif hook == "place" then
    local actor, runners = ...
    local rs = {}
    if type(runners) ~= "table" then error("kit.place: runners must be a list", 3) end
    for i, r in ipairs(runners) do rs[i] = kit.runner(r) end
    return kit.actor(actor), rs
  elseif hook == "can_hibernate" then
    local actor, req, runner_says = ...
    if runner_says == nil then runner_says = true end
    if type(runner_says) ~= "boolean" then error("kit.can_hibernate: runner_says must be a boolean", 3) end
    return kit.actor(actor), kit.request(req), runner_says
  elseif hook == "timeouts" then
    local actor, defaults, bounds, req = ...
    local d = kit.defaults(defaults)
    return kit.actor(actor), d, bounds or kit.bounds(d), kit.request(req)
  elseif hook == "authorize" then
    local req, target = ...
    if target ~= nil and type(target) ~= "table" then error("kit.authorize: target must be a table", 3) end
    target = target or {}
    local actor = kit.actor(target.actor or target.actor_id and { id = target.actor_id } or nil)
    return kit.request(req), { actor_id = actor.id, actor = actor, token = target.token }
  elseif hook == "auto_response" then
    local actor, msg, binary, req = ...
    if type(msg) ~= "string" then error("kit.auto_response: msg must be a string", 3) end
    return kit.actor(actor), msg, binary and true or false, kit.request(req)
  end
  error("kit: unknown hook " .. tostring(hook), 3)
end

local function checked(hook, pol, ...)
  if type(pol) ~= "table" or type(pol.hooks) ~= "table" then
    error("kit." .. hook .. ": the first argument must be a policy from kit.load", 3)
  end
  local res = { P.run_with_budget(budget_ms, P["call_" .. hook], pol, ...) }
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, table.maxn(res))
end

-- route(req) -> kind, value: "builtin"; "actor", id; "create", target; "respond", answer.
-- req: a kit.request or what kit.request takes.
function kit.route(pol, req) return checked("route", pol, prepare("route", req)) end

-- place(actor, runners) -> the chosen runner's id, or nil.
function kit.place(pol, actor, runners) return checked("place", pol, prepare("place", actor, runners)) end

-- can_hibernate(actor, req, runner_says) -> boolean; runner_says defaults to true.
function kit.can_hibernate(pol, actor, req, runner_says)
  return checked("can_hibernate", pol, prepare("can_hibernate", actor, req, runner_says))
end

-- timeouts(actor) -> the full table the gateway would use. defaults: values over
-- kit.DEFAULT_TIMEOUTS; bounds: default a tenth to ten times each default.
function kit.timeouts(pol, actor, defaults, bounds, req)
  return checked("timeouts", pol, prepare("timeouts", actor, defaults, bounds, req))
end

-- auto_response(actor, msg, binary) -> string or nil.
function kit.auto_response(pol, actor, msg, binary, req)
  return checked("auto_response", pol, prepare("auto_response", actor, msg, binary, req))
end

-- authorize(req, target) -> true, or false and the answer the client gets. target: a table
-- of actor (what kit.actor takes), actor_id and token (a string or nil).
function kit.authorize(pol, req, target)
  return checked("authorize", pol, prepare("authorize", req, target))
end

-- cors(req) -> "builtin"; "allow" (the Origin mirrored); "allow", origin; "refuse". The gateway
-- asks only for requests with an Origin header: give one in req.headers.origin.
function kit.cors(pol, req) return checked("cors", pol, prepare("cors", req)) end

-- Calls a hook the way the gateway does: a failure (an error, a wrong answer, the budget) is
-- logged at error level with the hook's name, counted in sett_policy_hook_errors_total{hook},
-- and the built-in answer is returned instead. Returns the answer, like kit.<hook>.
function kit.call(pol, hook, ...)
  local args = { n = select("#", ...), ... }
  args = { n = 0, prepare(hook, unpack(args, 1, args.n)) }
  args.n = table.maxn(args)
  local res = { P.run_with_budget(budget_ms, P["call_" .. hook], pol, unpack(args, 1, args.n)) }
  if res[1] then return unpack(res, 2, table.maxn(res)) end
  sett.log("error", "policy hook failed; using the built-in behaviour", { hook = hook, error = tostring(res[2]) })
  sett._own_counter("sett_policy_hook_errors_total",
               "Policy hook calls that failed; the built-in behaviour answered.", { hook = hook }):inc()
  return P.builtin(hook, unpack(args, 1, args.n))
end

-- How many kit.call failures a hook had (sett_policy_hook_errors_total{hook}).
function kit.errors(hook) return kit.metric("sett_policy_hook_errors_total", { hook = hook }) or 0 end

---------------------------------------------------------------------------------------------------
-- What the policy did with sett

-- The log lines written through sett.log, oldest first: { level, msg, fields, at }. With a
-- level, only those of that level.
function kit.logs(level)
  local f = fake()
  local out = {}
  for _, l in ipairs(f and f.logs or {}) do
    if level == nil or l.level == level then out[#out + 1] = l end
  end
  return out
end

-- The first log line whose message contains text (plain), or nil.
function kit.find_log(text, level)
  for _, l in ipairs(kit.logs(level)) do
    if l.msg:find(text, 1, true) then return l end
  end
  return nil
end

function kit.clear_logs()
  local f = fake()
  if f then f.logs = {} end
end

-- Sets the clock sett.now() reads (ms) and returns it; without an argument, just returns it.
function kit.clock(ms)
  local f = fake()
  if not f then return sett.now() end
  if ms ~= nil then
    if type(ms) ~= "number" then error("kit.clock: expected a number of ms", 2) end
    f.clock = ms
  end
  return f.clock
end

-- Moves the clock on by ms and returns the new time. The timers policies started through
-- sett.timer that fall due on the way fire in order, each with the clock at its time, as the
-- gateway fires them: under the budget (kit.budget), a failure logged and counted
-- (kit.errors("timer")) and never raised into the spec.
function kit.advance(ms)
  if type(ms) ~= "number" or ms < 0 then error("kit.advance: expected a non-negative number of ms", 2) end
  if not fake() then return kit.clock() end
  hibernation.flush()
  timer.advance(kit.clock() + ms, kit.clock)
  return kit.clock()
end

-- The stand-in hibernation store (sett.hibernation). Its answers never come during the ask: they
-- wait for kit.flush() (or the next kit.advance), as the gateway's come on a later turn of its
-- loop. A failing callback is logged and counted in kit.errors("hibernation").

-- The store's rows of an actor's sockets (every gateway's): a list of { request_id, gateway_id,
-- last_ping_ms } (what is left out is made up) or a number of rows.
function kit.hibernation_rows(actor, rows) hibernation.fake_rows(type(actor) == "table" and actor.id or actor, rows) end
-- How many of this gateway's sockets of the actor may hibernate (sett.hibernation.local_count).
function kit.hibernation_local(actor, n)
  if type(n) ~= "number" or n < 0 then error("kit.hibernation_local: expected a count", 2) end
  hibernation.fake_local(type(actor) == "table" and actor.id or actor, n)
end
-- true: the store answers every ask with nil, "store unavailable", as when Redis is away.
function kit.hibernation_down(down) hibernation.fake_down(down) end
-- Delivers the store's answers asked so far; returns how many.
function kit.flush() return hibernation.flush() end

-- How many timers the policy has pending.
function kit.timers(pol)
  if type(pol) ~= "table" or not pol.timers then error("kit.timers: expected a policy from kit.load", 2) end
  return pol.timers.count()
end

-- A metric's value: a counter's or gauge's number, a histogram's count and sum (and its
-- observations as a third value); nil when nothing registered it.
function kit.metric(name, labels)
  local f = fake()
  if not f then return nil end
  local m = f.metrics[name .. sett._label_text(labels)]
  if not m then return nil end
  if m.kind == "histogram" then return m.count, m.sum, m.observations end
  return m.value
end

-- Forgets logs, actors, runners and sett.shared tables, zeroes metrics, stops every policy's
-- timers, sets the clock to 0 and the budget back to 50 ms: call it in before_each.
function kit.reset()
  if sett._fake_reset then sett._fake_reset() end
  timer.reset()
  hibernation.reset()
  require("sett.shared")._reset()
  next_actor, next_runner = 0, 0
  budget_ms = 50
  P.budget_ms = budget_ms
end

return kit
