local config = require "sett.config"

local function tmpfile(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  return path
end

describe("sett.config", function()
  it("fills every default for an empty table", function()
    local cfg = assert(config.validate({}))
    assert.are.equal("127.0.0.1:6420", cfg.listen)
    assert.are.equal("127.0.0.1:6430", cfg.admin_listen)
    assert.are.equal("info", cfg.log.level)
    assert.are.equal("text", cfg.log.format)
    assert.is_nil(cfg.tls)
    assert.are.equal(65536, cfg.limits.max_header_bytes)
    assert.are.equal(20 * 1024 * 1024, cfg.limits.max_body_bytes)
    assert.are.equal(32 * 1024 * 1024, cfg.limits.max_message_bytes)
  end)

  it("keeps given values", function()
    local cfg = assert(config.validate({ listen = "0.0.0.0:8080", log = { level = "debug", format = "json" } }))
    assert.are.equal("0.0.0.0:8080", cfg.listen)
    assert.are.equal("debug", cfg.log.level)
    assert.are.equal("json", cfg.log.format)
  end)

  it("reports an unknown key with its path", function()
    local cfg, errs = config.validate({ lsten = "127.0.0.1:1", log = { levl = "info" } })
    assert.is_nil(cfg)
    assert.are.same({ "log.levl: unknown key", "lsten: unknown key" }, (function()
      table.sort(errs)
      return errs
    end)())
  end)

  it("reports a wrong type with the key path and the value", function()
    local _, errs = config.validate({ listen = 6420 })
    assert.are.same({ 'listen: expected an address "a.b.c.d:port", got 6420' }, errs)
    _, errs = config.validate({ log = "loud" })
    assert.are.same({ 'log: expected a table, got "loud"' }, errs)
  end)

  it("rejects bad addresses", function()
    for _, a in ipairs({ "localhost:1", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
                         "256.0.0.1:80", "1.2.3:80", "1.2.3.4:80x", "" }) do
      local cfg, errs = config.validate({ admin_listen = a })
      assert.is_nil(cfg, a)
      assert.matches("^admin_listen: expected an address", errs[1])
    end
  end)

  it("takes cors.origins as a list of exact origins and *, any origin by default", function()
    assert.are.same({ "*" }, assert(config.validate({})).cors.origins)
    local cfg = assert(config.validate({ cors = { origins = { "https://app.example.com",
      "http://localhost:3000", "http://[::1]:8080", "*" } } }))
    assert.are.same({ "https://app.example.com", "http://localhost:3000", "http://[::1]:8080", "*" },
      cfg.cors.origins)
    assert.are.same({}, assert(config.validate({ cors = { origins = {} } })).cors.origins)
  end)

  it("refuses a cors origin a browser would never send", function()
    for _, o in ipairs({ "app.example.com", "https://app.example.com/", "https://app.example.com/x",
                         "https://App.example.com", "HTTPS://app.example.com", "https://a.com:",
                         "https://a.com:80x", "https://user@a.com", "", "**", "https://a com" }) do
      local cfg, errs = config.validate({ cors = { origins = { o } } })
      assert.is_nil(cfg, o)
      assert.are.same({ string.format('cors.origins[1]: expected an origin "scheme://host[:port]" in lowercase, or "*", got %q', o) }, errs)
    end
    local _, errs = config.validate({ cors = { origins = "*" } })
    assert.are.same({ 'cors.origins: expected a list of origins, got "*"' }, errs)
    _, errs = config.validate({ cors = { origins = { o = "https://a.com" } } })
    assert.are.same({ 'cors.origins: expected a list of origins, got key "o"' }, errs)
  end)

  it("rejects an enum value outside the list", function()
    local _, errs = config.validate({ log = { level = "verbose" } })
    assert.are.same({ 'log.level: expected one of debug, info, warn, error, got "verbose"' }, errs)
  end)

  it("rejects integers out of range and non-integers", function()
    local _, errs = config.validate({ limits = { max_header_bytes = 10 } })
    assert.are.same({ "limits.max_header_bytes: expected an integer in [1024, 1048576], got 10" }, errs)
    _, errs = config.validate({ shutdown_grace_ms = 1.5 })
    assert.are.same({ "shutdown_grace_ms: expected an integer, got 1.5" }, errs)
  end)

  it("checks timeout bounds: known keys, integers in range, min <= max", function()
    local cfg = assert(config.validate({ timeout_bounds = { ping_interval_ms = { min = 500, max = 60000 },
      max_pending_bytes = { max = 4194304 } } }))
    assert.are.same({ min = 500, max = 60000 }, cfg.timeout_bounds.ping_interval_ms)
    assert.are.same({ max = 4194304 }, cfg.timeout_bounds.max_pending_bytes)
    assert.are.same({}, cfg.timeout_bounds.ack_timeout_ms)
    local _, errs = config.validate({ timeout_bounds = { ping_interval_ms = { min = 5000, max = 10 } } })
    assert.are.same({ "timeout_bounds.ping_interval_ms: expected min <= max, got min = 5000, max = 10" }, errs)
    _, errs = config.validate({ timeout_bounds = { pingintervalms = { min = 1 }, ack_timeout_ms = { min = 0 } } })
    assert.are.same({ "timeout_bounds.pingintervalms: unknown key",
      "timeout_bounds.ack_timeout_ms.min: expected an integer in [1, 86400000], got 0" }, errs)
    _, errs = config.validate({ timeout_bounds = { max_pending_bytes = { min = 10 } } })
    assert.are.same({ "timeout_bounds.max_pending_bytes.min: expected an integer in [1024, 1073741824], got 10" }, errs)
  end)

  it("keeps the pending cap of a hibernatable socket at least the message limit", function()
    local cfg = assert(config.validate({}))
    assert.are.equal(128 * 1024 * 1024, cfg.hibernation.max_pending_bytes)
    assert(config.validate({ hibernation = { max_pending_bytes = 4096 }, limits = { max_message_bytes = 4096 } }))
    local _, errs = config.validate({ hibernation = { max_pending_bytes = 1048576 } })
    assert.are.same({ "hibernation.max_pending_bytes: expected at least limits.max_message_bytes (33554432), got 1048576" }, errs)
  end)

  it("takes a default runner name, not an empty one", function()
    assert.are.equal("pool", assert(config.validate({ gateway = { default_runner = "pool" } })).gateway.default_runner)
    assert.is_nil(assert(config.validate({})).gateway.default_runner)
    local _, errs = config.validate({ gateway = { default_runner = "" } })
    assert.are.same({ 'gateway.default_runner: expected a non-empty runner name, got ""' }, errs)
  end)

  it("checks the store's kind, url and prefix", function()
    local cfg = assert(config.validate({ store = { kind = "redis", url = "redis://127.0.0.1:7000/2", prefix = "t1:" } }))
    assert.are.equal("redis", cfg.store.kind)
    assert.are.equal(1000, cfg.store.connect_timeout_ms)
    local _, errs = config.validate({ store = { kind = "redis", url = "http://x", prefix = "a{b}" } })
    assert.are.same({
      'store.prefix: expected a key prefix without { or }, got "a{b}"',
      'store.url: expected a URL "redis://[[user]:password@]ip[:port][/db]", got "http://x"',
    }, errs)
  end)

  it("requires both tls files when tls is given", function()
    local _, errs = config.validate({ tls = { cert = "c.pem" } })
    assert.are.same({ "tls.key: required" }, errs)
  end)

  it("reports every error at once", function()
    local _, errs = config.validate({ listen = 1, admin_listen = 2, log = { level = 3 } })
    assert.are.equal(3, #errs)
  end)

  it("loads a file in a sandbox with os.getenv", function()
    local path = tmpfile([[return { listen = "127.0.0.1:" .. (os.getenv("SETT_SPEC_NO_SUCH_VAR") or "7000") }]])
    local cfg = assert(config.load(path))
    os.remove(path)
    assert.are.equal("127.0.0.1:7000", cfg.listen)
  end)

  it("gives files no io or os.execute", function()
    local path = tmpfile([[return { listen = io and "1.1.1.1:1" or "127.0.0.1:1", shutdown_grace_ms = os.execute and 1 or 2 }]])
    local cfg = assert(config.load(path))
    os.remove(path)
    assert.are.equal("127.0.0.1:1", cfg.listen)
    assert.are.equal(2, cfg.shutdown_grace_ms)
  end)

  it("reports syntax errors, runtime errors and non-table results", function()
    local path = tmpfile("return {")
    local cfg, errs = config.load(path)
    assert.is_nil(cfg)
    assert.matches("^configuration: ", errs[1])
    os.remove(path)
    path = tmpfile("error('boom')")
    cfg, errs = config.load(path)
    assert.matches("boom", errs[1])
    os.remove(path)
    path = tmpfile("return 42")
    cfg, errs = config.load(path)
    assert.are.same({ "configuration: expected the file to return a table, got 42" }, errs)
    os.remove(path)
  end)

  it("reports a missing file", function()
    local cfg, errs = config.load("/nonexistent/sett.lua")
    assert.is_nil(cfg)
    assert.matches("cannot open", errs[1])
  end)

  it("accepts the shipped conf/sett.lua", function()
    assert(config.load("conf/sett.lua"))
  end)
end)

describe("reload", function()
  it("needs a restart for the keys flagged so, and for every key in a table flagged so", function()
    assert.are.same({ "admin_listen", "hibernation.eligible_threshold_ms", "listen",
      "runner.init_timeout_ms", "runner.ping_interval_ms", "runner.ping_timeout_ms", "runner.token",
      "store.command_timeout_ms", "store.connect_timeout_ms", "store.kind", "store.prefix",
      "store.reconnect_max_ms", "store.url", "tls.cert", "tls.key" }, config.restart_keys())
  end)

  it("names a bound of timeout_bounds as one key, and every other key by its path", function()
    local names = {}
    for _, k in ipairs(config.keys()) do names[k.path] = k.name end
    assert.are.equal("timeout_bounds.ping_interval_ms", names["timeout_bounds.ping_interval_ms.min"])
    assert.are.equal("timeout_bounds.ping_interval_ms", names["timeout_bounds.ping_interval_ms.max"])
    assert.are.equal("gateway.retries", names["gateway.retries"])
    assert.is_nil(names["gateway"])
  end)
end)

describe("docs/configuration.md", function()
  it("is generated from the current schema", function()
    local p = assert(io.popen("luajit tools/config_doc.lua"))
    local want = p:read("*a")
    p:close()
    local f = assert(io.open("docs/configuration.md", "rb"))
    local have = f:read("*a")
    f:close()
    assert.are.equal(want, have, "run: luajit tools/config_doc.lua > docs/configuration.md")
  end)
end)
