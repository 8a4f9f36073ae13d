-- Which web pages may call sett from a browser: the app's own origins, any subdomain of
-- preview.example.com (one per pull request, say), and http://localhost on any port while
-- developing; every other Origin gets no CORS header, so its pages cannot read sett's answers.
-- A fixed list needs no policy (cors = { origins = { ... } } in the configuration); a pattern
-- does. Refusals are counted by kind of route.
--
--   policy = "examples/policies/cors.lua"      -- in the configuration
local sett = require "sett"

local APP = { ["https://app.example.com"] = true, ["https://admin.example.com"] = true }

local HELP = "Requests whose Origin the policy refused, by kind of route."
local refused = {
  gateway = sett.counter("policy_cors_refused_total", HELP, { route = "gateway" }),
  api = sett.counter("policy_cors_refused_total", HELP, { route = "api" }),
}

local function allowed(o)
  return APP[o] or o:match("^https://[%w-]+%.preview%.example%.com$") ~= nil
    or o:match("^http://localhost:%d+$") ~= nil or o == "http://localhost"
end

return {
  name = "cors",

  cors = function(req)
    if allowed(req.headers.origin) then return true end
    refused[req.path:match("^/gateway/") and "gateway" or "api"]:inc()
    return false
  end,

  -- Runs at every load and reload: a policy that fails it never replaces the running one.
  self_test = function()
    assert(allowed("https://app.example.com"), "the app's origin")
    assert(not allowed("https://app.example.com.evil.net"), "a look-alike")
  end,
}
