-- The configuration: a Lua file that returns a table. This module knows every key, its type,
-- range and default, validates a user's table against them and returns a complete table with
-- the defaults filled in. Errors name the key path, what was expected and the value found.
local M = {}

local function is_ipv4(host)
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, part in ipairs({ a, b, c, d }) do
    if #part > 3 or tonumber(part) > 255 then return false end
  end
  return true
end

-- Parses "host:port" where host is an IPv4 literal; returns host, port or nil.
function M.parse_address(s)
  if type(s) ~= "string" then return nil end
  local host, port = s:match("^([%d%.]+):(%d+)$")
  if not host or not is_ipv4(host) then return nil end
  port = tonumber(port)
  if port < 1 or port > 65535 then return nil end
  return host, port
end

local LEVELS = { "debug", "info", "warn", "error" }

-- The values a policy's timeouts hook may set, in the order every copy of them follows (the C
-- struct lh_timeouts_t, sett.policy, sett.testkit): { key, the configuration key that gives its
-- default, the range a bound may take }. Each key of `timeout_bounds` is a table
-- { min =, max = }; a bound left out is a tenth (min) or ten times (max) the configured value.
M.TIMEOUT_BOUND_KEYS = {
  { "ping_interval_ms", "tunnel.ping_interval_ms", 1, 86400000 },
  { "ping_timeout_ms", "tunnel.ping_timeout_ms", 1, 86400000 },
  { "websocket_open_timeout_ms", "gateway.websocket_open_timeout_ms", 1, 86400000 },
  { "response_start_timeout_ms", "gateway.response_start_timeout_ms", 1, 86400000 },
  { "hibernation_threshold_ms", "hibernation.eligible_threshold_ms", 1, 86400000 },
  { "max_pending_bytes", "hibernation.max_pending_bytes", 1024, 1073741824 },
  { "ack_timeout_ms", "hibernation.ack_timeout_ms", 1, 86400000 },
}
M.TIMEOUT_BOUNDS = {}
for _, b in ipairs(M.TIMEOUT_BOUND_KEYS) do
  local key, from, lo, hi = b[1], b[2], b[3], b[4]
  M.TIMEOUT_BOUNDS[key] = { type = "table", one_key = true, fields = {
    min = { type = "integer", min = lo, max = hi,
      doc = string.format("Smallest `%s` a policy's `timeouts` hook may set (default: a tenth of `%s`).", key, from) },
    max = { type = "integer", min = lo, max = hi,
      doc = string.format("Largest `%s` a policy's `timeouts` hook may set (default: ten times `%s`).", key, from) },
  } }
end

-- What the items of a list key may be (a list field's `item`): plural names the list in
-- messages and docs, expect says what one item must look like, check tells whether it does.
M.LIST_ITEMS = {
  name = { plural = "names", expect = "a name of lowercase letters, digits and -",
    check = function(s) return s:match("^[a-z0-9][a-z0-9-]*$") ~= nil and #s <= 64 end },
  -- An origin as browsers send it in the Origin header (RFC 6454): scheme "://" host, with a
  -- port only when it is not the scheme's default, nothing after; or "*" for any origin. The
  -- comparison with a request's Origin is exact, so a path, a trailing slash or an uppercase
  -- letter (browsers lowercase scheme and host) would never match and is refused here.
  origin = { plural = "origins", expect = 'an origin "scheme://host[:port]" in lowercase, or "*"',
    check = function(s)
      if s == "*" then return true end
      if #s > 255 then return false end
      local rest = s:match("^[a-z][a-z0-9+.-]*://(.+)$")
      if not rest then return false end
      local host, port = rest:match("^([a-z0-9._~%%!$&'()*+,;=-]+)(.*)$")
      if not host then host, port = rest:match("^(%[[%x:.]+%])(.*)$") end
      return host ~= nil and (port == "" or port:match("^:%d+$") ~= nil)
    end },
}

-- Each field: type (string|integer|boolean|enum|address|list|table), default, min/max for
-- integers, values for enums, item for lists (a key of M.LIST_ITEMS), fields for tables,
-- optional for tables that may be absent, doc for
-- docs; restart for keys a reload cannot change (on a table: every key in it), one_key for a
-- table a reload reports as one key when any of its fields changes.
M.schema = {
  listen = { type = "address", default = "127.0.0.1:6420", restart = true,
    doc = "Address for clients, runners and the REST API." },
  admin_listen = { type = "address", default = "127.0.0.1:6430", restart = true,
    doc = "Address for /health, /metrics and /admin/*." },
  log = { type = "table", fields = {
    level = { type = "enum", values = LEVELS, default = "info", doc = "Lowest level written." },
    format = { type = "enum", values = { "text", "json" }, default = "text",
      doc = "text (logfmt) or json, one event per line on stderr." },
  } },
  tls = { type = "table", optional = true, restart = true, doc = "Serve `listen` over TLS.", fields = {
    cert = { type = "string", required = true, doc = "PEM certificate chain file." },
    key = { type = "string", required = true, doc = "PEM private key file." },
  } },
  limits = { type = "table", fields = {
    max_header_bytes = { type = "integer", min = 1024, max = 1048576, default = 65536,
      doc = "Largest HTTP request head (request line and headers); larger gets 431." },
    max_body_bytes = { type = "integer", min = 0, max = 1073741824, default = 20971520,
      doc = "Largest HTTP request body; larger gets 413." },
    max_message_bytes = { type = "integer", min = 125, max = 1073741824, default = 33554432,
      doc = "Largest WebSocket message from a client; larger closes with 1009. A runner's socket takes up to the larger of this and the 21 MiB frame limit." },
    idle_timeout_ms = { type = "integer", min = 100, max = 86400000, default = 60000,
      doc = "An HTTP connection idle this long between requests is closed (within a second "
        .. "after, or half the shortest of the limits' timeouts when that is shorter)." },
    header_timeout_ms = { type = "integer", min = 100, max = 86400000, default = 10000,
      doc = "A request head (a WebSocket upgrade's too) not complete this long after the connection "
        .. "opened, or after the first byte of a later request, gets 408 and the connection closes; "
        .. "bytes that trickle in do not extend it." },
    body_timeout_ms = { type = "integer", min = 100, max = 86400000, default = 60000,
      doc = "A request body not complete this long after its head gets 408 and the connection closes." },
    max_connections = { type = "integer", min = 0, max = 100000000, default = 0,
      doc = "Client connections open at once on `listen`; a new one beyond it gets 503 and is closed "
        .. "once its request head is in. Runners' connections and the admin listener's are not counted "
        .. "(docs/gateway.md). 0: the process's open-file limit less 256." },
    max_connections_per_address = { type = "integer", min = 0, max = 100000000, default = 0,
      doc = "Client connections open at once from one IP address, the same way; 0: no cap." },
    max_output_bytes = { type = "integer", min = 65536, max = 1073741824, default = 33554432,
      doc = "Bytes queued for one client that has not taken them; over it a WebSocket closes with 1008, "
        .. "an HTTP connection is dropped." },
    send_timeout_ms = { type = "integer", min = 100, max = 86400000, default = 60000,
      doc = "Longest a client may leave queued bytes untaken (the socket's buffer full); then the same as "
        .. "over `limits.max_output_bytes`." },
    max_buffered_bytes = { type = "integer", min = 1048576, max = 68719476736, default = 1073741824,
      doc = "Bytes queued for all connections together, with the unacked messages of every hibernatable socket; "
        .. "over it the clients holding most output are cut the same way, and a client message that would pass it "
        .. "closes its hibernatable socket with 1011 `guard.websocket_pending_total_limit_reached`." },
  } },
  namespaces = { type = "list", item = "name", default = {},
    doc = "Namespaces that exist at start besides `default` (names: lowercase letters, digits, `-`)." },
  runner = { type = "table", fields = {
    token = { type = "string", restart = true, doc = "When set, runners must offer the subprotocol `rivet_token.<token>`." },
    init_timeout_ms = { type = "integer", min = 10, max = 600000, default = 5000, restart = true,
      doc = "A runner that sends no ToServerInit this long after connecting is closed." },
    ping_interval_ms = { type = "integer", min = 10, max = 600000, default = 3000, restart = true,
      doc = "ToClientPing period on each runner socket (plus 0-127 ms jitter)." },
    ping_timeout_ms = { type = "integer", min = 10, max = 3600000, default = 15000, restart = true,
      doc = "A runner that answers no ping for this long is closed." },
    lost_threshold_ms = { type = "integer", min = 10, max = 3600000, default = 15000,
      doc = "A disconnected runner that has not reconnected after this long is lost; its actors move." },
    eligible_ms = { type = "integer", min = 10, max = 3600000, default = 10000,
      doc = "Actors are only placed on runners whose last pong is this recent." },
  } },
  admin = { type = "table", fields = {
    token = { type = "string",
      doc = "When set, `/admin/*` on `admin_listen` needs `Authorization: Bearer <token>` (401 without, 403 with another); `/health` and `/metrics` stay open. `sett check` warns when `admin_listen` is not a loopback address and no token is set." },
  } },
  api = { type = "table", fields = {
    token = { type = "string",
      doc = "When set, REST API requests must send `Authorization: Bearer <token>` (401 without, 403 with another); runner and gateway traffic is not affected." },
  } },
  cors = { type = "table", fields = {
    origins = { type = "list", item = "origin", default = { "*" },
      doc = "Origins whose browsers may read sett's answers (gateway and REST API): exact origins "
        .. "(`\"https://app.example.com\"`, scheme and host in lowercase, a port when not the default) "
        .. "and `\"*\"` for any. An allowed Origin is mirrored with `Access-Control-Allow-Credentials: true`; "
        .. "a refused one gets no CORS headers at all. The default `{ \"*\" }` mirrors every Origin with "
        .. "credentials, as Rivet does: list your origins to restrict it (`{}` refuses every Origin). "
        .. "A policy's `cors` hook may decide per request first (docs/policy.md); docs/gateway.md and "
        .. "docs/api.md list the headers." },
  } },
  tunnel = { type = "table", fields = {
    ping_interval_ms = { type = "integer", min = 10, max = 600000, default = 3000,
      doc = "ToRunnerPing period for each tunnelled WebSocket (plus 0-127 ms jitter)." },
    ping_timeout_ms = { type = "integer", min = 10, max = 3600000, default = 30000,
      doc = "A tunnelled WebSocket with no pong for this long closes with 1011." },
  } },
  gateway = { type = "table", fields = {
    ready_timeout_ms = { type = "integer", min = 10, max = 3600000, default = 10000,
      doc = "How long a request waits for its actor to run (503 guard.actor_ready_timeout)." },
    response_start_timeout_ms = { type = "integer", min = 10, max = 86400000, default = 300000,
      doc = "How long an HTTP request waits for ToServerResponseStart (504)." },
    websocket_open_timeout_ms = { type = "integer", min = 10, max = 3600000, default = 15000,
      doc = "How long a WebSocket waits for ToServerWebSocketOpen." },
    gc_interval_ms = { type = "integer", min = 10, max = 3600000, default = 15000,
      doc = "Period of the pass that removes in-flight requests whose handler is gone." },
    retries = { type = "integer", min = 0, max = 10, default = 3,
      doc = "HTTP retries when the actor stops before answering (backoff 150 ms doubling)." },
    default_runner = { type = "string", pattern = "^[^%z]+$", expect = "a non-empty runner name",
      doc = "Runner name for actors a policy's `route` creates without `runner =`; unset, the one runner name connected in the namespace (docs/policy.md)." },
  } },
  hibernation = { type = "table", fields = {
    max_pending_bytes = { type = "integer", min = 1024, max = 1073741824, default = 134217728,
      doc = "Unacked client messages kept per hibernatable socket (Rivet's per-request cap); over it closes 1011. "
        .. "At least `limits.max_message_bytes`; all sockets' together count in `limits.max_buffered_bytes`." },
    ack_timeout_ms = { type = "integer", min = 10, max = 3600000, default = 30000,
      doc = "A message unacked this long closes its socket with 1011 on the next GC pass." },
    eligible_threshold_ms = { type = "integer", min = 20, max = 86400000, default = 90000, restart = true,
      doc = "Keepalive rows older than this are not listed in CommandStartActor." },
  } },
  store = { type = "table", restart = true, fields = {
    kind = { type = "enum", values = { "memory", "redis" }, default = "memory",
      doc = "Where actors, runners, namespaces, KV and hibernating rows live: in this process, or in Redis (docs/store.md)." },
    url = { type = "string", default = "redis://127.0.0.1:6379/0",
      pattern = "^redis://", expect = 'a URL "redis://[[user]:password@]ip[:port][/db]"',
      doc = "Redis server for `kind = \"redis\"`; the host must be an IP literal (a name lookup would block the loop)." },
    prefix = { type = "string", default = "sett:", pattern = "^[^{}]*$", expect = "a key prefix without { or }",
      doc = "Starts every Redis key; deployments sharing one Redis differ by prefix." },
    connect_timeout_ms = { type = "integer", min = 10, max = 600000, default = 1000,
      doc = "Longest a Redis connect and its setup (AUTH, SELECT, scripts) may take." },
    reconnect_max_ms = { type = "integer", min = 10, max = 600000, default = 5000,
      doc = "Longest wait between Redis reconnect attempts (the first waits 100 ms, then doubling)." },
    command_timeout_ms = { type = "integer", min = 10, max = 600000, default = 5000,
      doc = "A Redis reply later than this drops the connection; what was in flight fails and is retried by its caller." },
  } },
  policy = { type = "policy",
    doc = "A Lua file of policy hooks (docs/policy.md), `\"path.lua\"` or `{ file = \"path.lua\", options = { ... }, read_dirs = { \"/abs/dir\" } }` (the policy reads `options` as `sett.options`, and files below `read_dirs` with `sett.read_file`); reloaded on SIGHUP, POST /admin/reload and when it changes." },
  timeout_bounds = { type = "table", fields = M.TIMEOUT_BOUNDS },
  policy_budget_ms = { type = "integer", min = 1, max = 1000, default = 5,
    doc = "Longest a policy hook call may run before it is stopped and the built-in behaviour answers." },
  shutdown_grace_ms = { type = "integer", min = 0, max = 600000, default = 2000,
    doc = "On SIGINT/SIGTERM, how long closing WebSockets may take before sockets are dropped." },
}

-- Every key that holds a value (not the tables around them), sorted by path, as
-- { path =, spec =, restart =, name = }: restart when the key or a table around it is flagged
-- so; name is what a reload reports when the value changes, the path or that of the one_key
-- table around it. tools/config_gen.lua generates the C configuration from this list.
function M.keys()
  local out = {}
  local function walk(fields, prefix, restart, name)
    for k, spec in pairs(fields) do
      local path = prefix .. k
      local r = restart or spec.restart or false
      local n = name or (spec.one_key and path) or nil
      if spec.type == "table" then
        walk(spec.fields, path .. ".", r, n)
      else
        out[#out + 1] = { path = path, spec = spec, restart = r, name = n or path }
      end
    end
  end
  walk(M.schema, "", false, nil)
  table.sort(out, function(a, b) return a.path < b.path end)
  return out
end

-- The keys a reload cannot change, sorted.
function M.restart_keys()
  local out = {}
  for _, k in ipairs(M.keys()) do
    if k.restart then out[#out + 1] = k.path end
  end
  return out
end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v > -2^53 and v < 2^53
end

local check_field

local function check_table(spec, value, path, errs)
  local out = {}
  for k, v in pairs(value) do
    if type(k) ~= "string" or not spec.fields[k] then
      errs[#errs + 1] = string.format("%s%s: unknown key", path, tostring(k))
    end
  end
  local names = {}
  for k in pairs(spec.fields) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    out[k] = check_field(spec.fields[k], value[k], path .. k, errs)
  end
  return out
end

function check_field(spec, v, path, errs)
  local function bad(expected)
    errs[#errs + 1] = string.format("%s: expected %s, got %s", path, expected, show(v))
  end
  if v == nil then
    if spec.type == "table" then
      if spec.optional then return nil end
      return check_table(spec, {}, path .. ".", errs)
    end
    if spec.required then
      errs[#errs + 1] = path .. ": required"
    end
    return spec.default
  end
  local t = spec.type
  if t == "string" then
    if type(v) ~= "string" then return bad("a string") end
    if spec.pattern and not v:match(spec.pattern) then return bad(spec.expect) end
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return bad("a boolean") end
  elseif t == "integer" then
    if not is_integer(v) then return bad("an integer") end
    if (spec.min and v < spec.min) or (spec.max and v > spec.max) then
      return bad(string.format("an integer in [%d, %d]", spec.min, spec.max))
    end
  elseif t == "enum" then
    local ok = false
    for _, e in ipairs(spec.values) do ok = ok or e == v end
    if not ok then return bad("one of " .. table.concat(spec.values, ", ")) end
  elseif t == "address" then
    if not M.parse_address(v) then return bad('an address "a.b.c.d:port"') end
  elseif t == "table" then
    if type(v) ~= "table" then return bad("a table") end
    return check_table(spec, v, path .. ".", errs)
  elseif t == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return bad("a number") end
    if (spec.min and v < spec.min) or (spec.max and v > spec.max) then
      return bad(string.format("a number in [%s, %s]", tostring(spec.min), tostring(spec.max)))
    end
  elseif t == "map" then
    if type(v) ~= "table" then return bad("a table of name = value") end
    local out = {}
    local names = {}
    for k in pairs(v) do
      if type(k) ~= "string" then
        errs[#errs + 1] = string.format("%s: expected string keys, got key %s", path, show(k))
      else
        names[#names + 1] = k
      end
    end
    table.sort(names)
    for _, k in ipairs(names) do out[k] = check_field(spec.value, v[k], path .. "." .. k, errs) end
    return out
  elseif t == "policy" then
    -- "file.lua", or { file = "file.lua", options = { ... } }: the file goes on as the key's
    -- value (C reads it as a string), the options are checked by M.validate.
    if type(v) == "string" then return v end
    if type(v) ~= "table" then return bad('a file name or { file = "...", options = { ... } }') end
    for k in pairs(v) do
      if k ~= "file" and k ~= "options" and k ~= "read_dirs" then
        errs[#errs + 1] = string.format("%s.%s: unknown key", path, tostring(k))
      end
    end
    if type(v.file) ~= "string" then
      errs[#errs + 1] = string.format("%s.file: expected a string, got %s", path, show(v.file))
      return nil
    end
    return v.file
  elseif t == "list" then
    local item_kind = M.LIST_ITEMS[spec.item] or error("config: " .. path .. ": unknown list item kind " .. show(spec.item))
    if type(v) ~= "table" then return bad("a list of " .. item_kind.plural) end
    local out = {}
    for k, item in pairs(v) do
      if type(k) ~= "number" or k < 1 or k > #v or k ~= math.floor(k) then
        errs[#errs + 1] = string.format("%s: expected a list of %s, got key %s", path, item_kind.plural, show(k))
      elseif type(item) ~= "string" or not item_kind.check(item) then
        errs[#errs + 1] = string.format("%s[%d]: expected %s, got %s", path, k, item_kind.expect, show(item))
      else
        out[k] = item
      end
    end
    return out
  end
  return v
end

-- A policy's options are plain data: strings, numbers, booleans and tables of them (no
-- functions, no cycles), so what the configuration gives is what the policy reads and they can
-- be copied into every load. Returns the copy; errors are added to errs with the key path.
local function plain_copy(v, path, errs, depth)
  local t = type(v)
  if t == "string" or t == "boolean" then return v end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      errs[#errs + 1] = string.format("%s: expected a finite number, got %s", path, show(v))
      return nil
    end
    return v
  end
  if t ~= "table" then
    errs[#errs + 1] = string.format("%s: expected a string, number, boolean or table, got %s", path, t)
    return nil
  end
  if depth > 16 then
    errs[#errs + 1] = path .. ": nested deeper than 16 tables"
    return nil
  end
  local out = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" and type(k) ~= "number" then
      errs[#errs + 1] = string.format("%s: expected string or number keys, got a %s key", path, type(k))
    else
      out[k] = plain_copy(x, path .. "." .. tostring(k), errs, depth + 1)
    end
  end
  return out
end
M.plain_copy = plain_copy

-- Checks value (a table or nil) against fields, a schema in the form of M.schema's, naming
-- every problem with its key path below prefix ("policy.options."). Returns the table with the
-- defaults filled in, or nil and the list of errors. Policies check their options with it
-- (sett.check_options).
function M.check(fields, value, prefix)
  local errs = {}
  if value ~= nil and type(value) ~= "table" then
    return nil, { string.format("%s: expected a table, got %s", (prefix or ""):gsub("%.$", ""), show(value)) }
  end
  local out = check_table({ fields = fields }, value or {}, prefix or "", errs)
  if #errs > 0 then return nil, errs end
  return out
end

-- Validates a user table; returns the complete configuration, or nil and a list of errors.
function M.validate(user)
  local errs = {}
  if type(user) ~= "table" then
    return nil, { "configuration: expected the file to return a table, got " .. show(user) }
  end
  local cfg = check_table({ fields = M.schema }, user, "", errs)
  for _, b in ipairs(M.TIMEOUT_BOUND_KEYS) do
    local t = cfg.timeout_bounds and cfg.timeout_bounds[b[1]]
    if t and t.min and t.max and t.min > t.max then
      errs[#errs + 1] = string.format("timeout_bounds.%s: expected min <= max, got min = %d, max = %d",
        b[1], t.min, t.max)
    end
  end
  -- Every message a client may send must fit in a hibernatable socket's buffer.
  local hib, lim = cfg.hibernation, cfg.limits
  if hib and lim and type(hib.max_pending_bytes) == "number" and type(lim.max_message_bytes) == "number"
      and hib.max_pending_bytes < lim.max_message_bytes then
    errs[#errs + 1] = string.format("hibernation.max_pending_bytes: expected at least limits.max_message_bytes (%d), got %d",
      lim.max_message_bytes, hib.max_pending_bytes)
  end
  -- The policy's options travel beside the key C reads (cfg.policy, the file).
  if type(user.policy) == "table" and user.policy.options ~= nil then
    if type(user.policy.options) ~= "table" then
      errs[#errs + 1] = "policy.options: expected a table, got " .. show(user.policy.options)
    else
      cfg.policy_options = plain_copy(user.policy.options, "policy.options", errs, 1)
    end
  end
  -- The directories sett.read_file may read below: absolute paths without "..", kept without a
  -- trailing slash.
  if type(user.policy) == "table" and user.policy.read_dirs ~= nil then
    local dirs = user.policy.read_dirs
    if type(dirs) ~= "table" then
      errs[#errs + 1] = "policy.read_dirs: expected a list of directories, got " .. show(dirs)
    else
      local out = {}
      for i = 1, #dirs do
        local d = dirs[i]
        if type(d) ~= "string" or d:sub(1, 1) ~= "/" or d:find("%z") or d:find("/%.%.?/") or d:find("/%.%.?$") then
          errs[#errs + 1] = string.format("policy.read_dirs[%d]: expected an absolute directory path without . or .., got %s", i, show(d))
        else
          out[i] = d:gsub("/+$", "")
          if out[i] == "" then out[i] = "/" end
        end
      end
      for k in pairs(dirs) do
        if type(k) ~= "number" or k < 1 or k > #dirs or k ~= math.floor(k) then
          errs[#errs + 1] = "policy.read_dirs: expected a list, got key " .. show(k)
        end
      end
      cfg.policy_read_dirs = out
    end
  end
  if #errs > 0 then return nil, errs end
  return cfg
end

-- The environment a configuration file runs in: plain data helpers, os.getenv, no I/O.
local function sandbox()
  return {
    string = string, table = table, math = math, pairs = pairs, ipairs = ipairs,
    tostring = tostring, tonumber = tonumber, type = type, error = error, assert = assert,
    select = select, pcall = pcall, unpack = unpack,
    os = { getenv = os.getenv, time = os.time },
  }
end

-- Loads and validates a configuration file; returns the configuration or nil and errors.
function M.load(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, { "configuration: cannot open " .. tostring(err) } end
  local src = f:read("*a")
  f:close()
  -- Bytecode is not checked by LuaJIT's loader and can break the VM: only source is read.
  if src:byte(1) == 27 then return nil, { "configuration: " .. path .. " is precompiled bytecode; give the Lua source" } end
  local chunk, perr = loadstring(src, "@" .. path)
  if not chunk then return nil, { "configuration: " .. perr } end
  -- Compiled loops skip the host's time budget hook, which must stop a file that never ends.
  if jit then jit.off(chunk, true) end
  setfenv(chunk, sandbox())
  local ok, user = pcall(chunk)
  if not ok then return nil, { "configuration: " .. tostring(user) } end
  return M.validate(user)
end

return M
