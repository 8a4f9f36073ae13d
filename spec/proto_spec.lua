-- The Lua binding of the runner-protocol v7 codec (src/proto/proto_lua.c), loaded from
-- build/lua/sett/proto.so: the byte examples of the reference in both directions, the shapes it
-- accepts and the messages it gives for the ones it does not, and 64-bit integers.
local proto = require "sett.proto"

local function unhex(s)
  return (s:gsub("%s", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local GW, RQ = unhex("11223344"), unhex("aabbccdd")
local function id(index) return { gatewayId = GW, requestId = RQ, messageIndex = index } end
local CKPT = { actorId = "A", generation = 0, index = 0 }

-- The examples of section 2.5 of the reference, as the TypeScript package builds them.
local vectors = {
  { "to_server", "00 01 72 01 00 00 00 02 00 00 00 01 00 01 02 7b 7d",
    { tag = "ToServerInit", val = { name = "r", version = 1, totalSlots = 2,
      prepopulateActorNames = {}, metadata = "{}" } } },
  { "to_client", "00 01 52 98 3a 00 00 00 00 00 00 40 77 1b 00 00 00 00 00 00",
    { tag = "ToClientInit", val = { runnerId = "R",
      metadata = { runnerLostThreshold = 15000, actorStopThreshold = 1800000 } } } },
  { "to_client", "01 01 01 41 00 00 00 00 00 00 00 00 00 00 00 00 00 01 6e 00 01 00 00 00 00 00 00 00 00 00",
    { tag = "ToClientCommands", val = { { checkpoint = CKPT, inner = { tag = "CommandStartActor",
      val = { config = { name = "n", createTs = 1 }, hibernatingRequests = {} } } } } } },
  { "to_server", "01 01 01 41 00 00 00 00 00 00 00 00 00 00 00 00 01 00",
    { tag = "ToServerEvents", val = { { checkpoint = CKPT, inner = { tag = "EventActorStateUpdate",
      val = { state = { tag = "ActorStateRunning" } } } } } } },
  { "to_client", "05 01 00 00 00 00 00 00 00", { tag = "ToClientPing", val = { ts = 1 } } },
  { "to_server", "04 01 00 00 00 00 00 00 00", { tag = "ToServerPong", val = { ts = 1 } } },
  { "to_client", "04 11 22 33 44 aa bb cc dd 00 00 00 01 41 03 47 45 54 05 2f 70 69 6e 67 00 00 00",
    { tag = "ToClientTunnelMessage", val = { messageId = id(0), messageKind = {
      tag = "ToClientRequestStart",
      val = { actorId = "A", method = "GET", path = "/ping", headers = {}, stream = false } } } } },
  { "to_server", "06 11 22 33 44 aa bb cc dd 00 00 00 c8 00 00 01 02 6f 6b 00",
    { tag = "ToServerTunnelMessage", val = { messageId = id(0), messageKind = {
      tag = "ToServerResponseStart", val = { status = 200, headers = {}, body = "ok", stream = false } } } } },
  { "to_server", "06 11 22 33 44 aa bb cc dd 00 00 03 01",
    { tag = "ToServerTunnelMessage", val = { messageId = id(0), messageKind = {
      tag = "ToServerWebSocketOpen", val = { canHibernate = true } } } } },
  { "to_client", "04 11 22 33 44 aa bb cc dd 01 00 04 02 68 69 00",
    { tag = "ToClientTunnelMessage", val = { messageId = id(1), messageKind = {
      tag = "ToClientWebSocketMessage", val = { data = "hi", binary = false } } } } },
  { "to_server", "06 11 22 33 44 aa bb cc dd 02 00 05 01 00",
    { tag = "ToServerTunnelMessage", val = { messageId = id(2), messageKind = {
      tag = "ToServerWebSocketMessageAck", val = { index = 1 } } } } },
  { "to_server", "05 01 41 00 00 00 00 00 01 01 01",
    { tag = "ToServerKvRequest", val = { actorId = "A", requestId = 0,
      data = { tag = "KvGetRequest", val = { keys = { "\1" } } } } } },
  { "to_client", "03 00 00 00 00 03",
    { tag = "ToClientKvResponse", val = { requestId = 0, data = { tag = "KvPutResponse" } } } },
  { "to_runner", "07 00 00 11 22 33 44 aa bb cc dd 01 00 00 00 00 00 00 00",
    { tag = "ToRunnerPing", val = { gatewayId = GW, requestId = RQ, ts = 1 } } },
  { "to_gateway", "07 00 00 aa bb cc dd 01 00 00 00 00 00 00 00",
    { tag = "ToGatewayPong", val = { requestId = RQ, ts = 1 } } },
}

local function encode_error(typename, value)
  local ok, err = pcall(proto.encode, typename, value)
  assert.is_false(ok, "encode should have failed")
  return err
end

describe("sett.proto", function()
  it("names the protocol version and every type", function()
    assert.equals(7, proto.VERSION)
    local names = {}
    for _, n in ipairs(proto.types) do names[n] = true end
    for _, n in ipairs({ "to_server", "to_client", "to_runner", "to_gateway", "actor_config",
      "message_id", "kv_request_data", "to_server_tunnel_message_kind" }) do
      assert.is_true(names[n], n)
    end
  end)

  describe("the byte examples", function()
    for i, v in ipairs(vectors) do
      local typename, bytes, value = v[1], unhex(v[2]), v[3]
      it(("decodes example %d (%s %s)"):format(i, typename, value.tag), function()
        assert.same(value, proto.decode(typename, bytes))
      end)
      it(("encodes example %d (%s %s)"):format(i, typename, value.tag), function()
        assert.equals(hex(bytes), hex(proto.encode(typename, value)))
      end)
    end
  end)

  describe("decode", function()
    it("refuses malformed frames with the offset and the field", function()
      local v, err = proto.decode("to_server", unhex("04 01 00"))
      assert.is_nil(v)
      assert.equals("offset 1: unexpected end of input (in ToServerPong.ts)", err)
      v, err = proto.decode("to_server", unhex("04 01 00 00 00 00 00 00 00 00"))
      assert.is_nil(v)
      assert.equals("offset 9: trailing bytes after the message (in ToServer)", err)
      v, err = proto.decode("to_server", unhex("09"))
      assert.is_nil(v)
      assert.equals("offset 0: unknown union tag (in ToServer)", err)
      v, err = proto.decode("to_server", unhex("06 11 22 33 44 aa bb cc dd 00 00 03 02"))
      assert.is_nil(v)
      assert.matches("offset 12: invalid bool", err, 1, true)
      v, err = proto.decode("to_server", unhex("00 01 ff 01 00 00 00 02 00 00 00 00 00"))
      assert.is_nil(v)
      assert.matches("invalid UTF-8", err, 1, true)
      assert.is_nil(proto.decode("to_server", ""))
    end)

    it("checks the version prefix of the bus types", function()
      local v, err = proto.decode("to_runner", unhex("06 00 01"))
      assert.is_nil(v)
      assert.equals("offset 0: unsupported protocol version (expected 07 00, v7) (in version prefix)", err)
      assert.same({ tag = "ToRunnerClose" }, proto.decode("to_runner", unhex("07 00 01")))
      assert.equals("070001", hex(proto.encode("to_runner", { tag = "ToRunnerClose" })))
      v = proto.decode("to_gateway", unhex("07 00 00 aa bb cc dd 01 00 00 00 00 00 00 00"))
      assert.equals("ToGatewayPong", v.tag)
    end)

    it("refuses duplicate map keys", function()
      local v, err = proto.decode("to_client", unhex(
        "04 11 22 33 44 aa bb cc dd 00 00 00 01 41 03 47 45 54 01 2f 02 01 61 01 31 01 61 01 32 00 00"))
      assert.is_nil(v)
      assert.equals("offset 25: duplicate map key (in ToClientRequestStart.headers)", err)
    end)

    it("refuses a duplicate key in a map large enough to be checked through a hash map", function()
      local head = "\4\17\34\51\68\170\187\204\221\0\0\0\1A\3GET\1/"
      local entries = {}
      for i = 1, 19 do entries[i] = string.format("\3k%02d\1v", i) end
      local ok = head .. "\19" .. table.concat(entries) .. "\0\0"
      local v = assert(proto.decode("to_client", ok))
      assert.equals("v", v.val.messageKind.val.headers.k19)
      entries[20] = "\3k05\1v"
      local err
      v, err = proto.decode("to_client", head .. "\20" .. table.concat(entries) .. "\0\0")
      assert.is_nil(v)
      assert.equals("offset 135: duplicate map key (in ToClientRequestStart.headers)", err)
    end)

    it("honours the frame limit", function()
      local saved = proto.max_frame()
      assert.equals(21 * 1024 * 1024, saved)
      proto.max_frame(8)
      local v, err = proto.decode("to_server", unhex("04 01 00 00 00 00 00 00 00"))
      proto.max_frame(saved)
      assert.is_nil(v)
      assert.equals("offset 0: frame exceeds the size limit (in ToServer)", err)
      assert.is_table(proto.decode("to_server", unhex("04 01 00 00 00 00 00 00 00")))
    end)
  end)

  describe("encode", function()
    it("names the field that has the wrong shape", function()
      assert.equals("to_server.val.name: expected string, got nil",
        encode_error("to_server", { tag = "ToServerInit", val = { version = 1, totalSlots = 1 } }))
      assert.equals("to_server.val.totalSlots: expected integer, got string",
        encode_error("to_server", { tag = "ToServerInit", val = { name = "r", version = 1, totalSlots = "2" } }))
      assert.equals("to_server.val.version: integer out of range for u32",
        encode_error("to_server", { tag = "ToServerInit", val = { name = "r", version = -1, totalSlots = 1 } }))
      assert.matches("^to_server%.tag: unknown ToServer member 'Nope' %(expected one of ToServerInit, ",
        encode_error("to_server", { tag = "Nope" }))
      assert.equals("to_server.val[1].checkpoint.actorId: expected string, got number",
        encode_error("to_server", { tag = "ToServerEvents", val = { { checkpoint = { actorId = 1,
          generation = 0, index = 0 }, inner = { tag = "EventActorIntent", val = { intent = { tag = "ActorIntentSleep" } } } } } }))
      assert.equals('to_client.val.messageKind.val.headers["x"]: expected string, got boolean',
        encode_error("to_client", { tag = "ToClientTunnelMessage", val = { messageId = id(0),
          messageKind = { tag = "ToClientWebSocketOpen", val = { actorId = "A", path = "/", headers = { x = true } } } } }))
      assert.equals("to_server.val.messageId.gatewayId: expected a string of 4 bytes, got 3",
        encode_error("to_server", { tag = "ToServerTunnelMessage", val = { messageId = { gatewayId = "abc",
          requestId = RQ, messageIndex = 0 }, messageKind = { tag = "ToServerResponseAbort" } } }))
      assert.equals("to_server.val: unknown field 'extra' in ToServerPong",
        encode_error("to_server", { tag = "ToServerPong", val = { ts = 1, extra = 2 } }))
      assert.equals("to_server: unknown field 'value' in ToServer (expected tag, val)",
        encode_error("to_server", { tag = "ToServerStopping", value = 1 }))
      assert.equals("to_server.val: expected a list (keys 1..n only)",
        encode_error("to_server", { tag = "ToServerEvents", val = { [2] = {} } }))
      assert.equals("to_server.val.name: expected a UTF-8 string",
        encode_error("to_server", { tag = "ToServerInit", val = { name = "\255", version = 1, totalSlots = 1 } }))
      assert.equals("to_server.val.data.val.query.val.exclusive: expected boolean, got number",
        encode_error("to_server", { tag = "ToServerKvRequest", val = { actorId = "A", requestId = 1,
          data = { tag = "KvListRequest", val = { query = { tag = "KvListRangeQuery",
            val = { start = "a", ["end"] = "b", exclusive = 1 } } } } } }))
      assert.equals("event_wrapper.inner.val.state.val.code: unknown StopCode value 'OK'",
        encode_error("event_wrapper", { checkpoint = CKPT, inner = { tag = "EventActorStateUpdate",
          val = { state = { tag = "ActorStateStopped", val = { code = "OK" } } } } }))
      assert.matches("unknown type 'to_nowhere'", encode_error("to_nowhere", {}), 1, true)
    end)

    it("leaves absent optionals out and sorts map keys", function()
      local v = { tag = "ToServerTunnelMessage", val = { messageId = id(0), messageKind = {
        tag = "ToServerResponseStart", val = { status = 404, headers = { b = "2", a = "1", ["a-"] = "3" },
          stream = true } } } }
      local bytes = proto.encode("to_server", v)
      assert.equals(hex(unhex("06 11223344 aabbccdd 0000 00 9401 03 0161 0131 02612d 0133 0162 0132 00 01")),
        hex(bytes))
      assert.same(v, proto.decode("to_server", bytes))
    end)

    it("encodes the stopped state with its enum and optional message", function()
      local v = { tag = "ToServerEvents", val = { { checkpoint = CKPT, inner = {
        tag = "EventActorStateUpdate", val = { state = { tag = "ActorStateStopped",
          val = { code = "Error", message = "boom" } } } } } } }
      local bytes = proto.encode("to_server", v)
      assert.equals("01010141" .. "00000000" .. "0000000000000000" .. "010101" .. "0104626f6f6d", hex(bytes))
      assert.same(v, proto.decode("to_server", bytes))
    end)

    it("encodes and decodes every named type, not only the top-level ones", function()
      local cfg = { name = "counter", key = "k", createTs = 1700000000000, input = "\0\1\2" }
      assert.same(cfg, proto.decode("actor_config", proto.encode("actor_config", cfg)))
      assert.same(id(65535), proto.decode("message_id", proto.encode("message_id", id(65535))))
      assert.equals("ffff", hex(proto.encode("message_index", 65535)))
      assert.equals("01", hex(proto.encode("stop_code", "Error")))
      assert.equals("Ok", proto.decode("stop-code", "\0"))
      assert.equals("0568656c6c6f", hex(proto.encode("Id", "hello")))
    end)
  end)

  describe("64-bit integers", function()
    local function pong(ts) return proto.encode("to_server", { tag = "ToServerPong", val = { ts = ts } }) end
    local function ts_of(bytes) return proto.decode("to_server", bytes).val.ts end

    it("are numbers up to 2^53 and decimal strings beyond", function()
      assert.equals(2 ^ 53, ts_of(pong(2 ^ 53)))
      assert.equals(-(2 ^ 53), ts_of(pong(-(2 ^ 53))))
      assert.equals("9007199254740993", ts_of(pong("9007199254740993")))
      assert.equals("-9007199254740993", ts_of(pong("-9007199254740993")))
      assert.equals("9223372036854775807", ts_of(pong("9223372036854775807")))
      assert.equals("-9223372036854775808", ts_of(pong("-9223372036854775808")))
      assert.equals("04ffffffffffffff7f", hex(pong("9223372036854775807")))
      assert.equals("040000000000000080", hex(pong("-9223372036854775808")))
    end)

    it("accept strings and exact doubles on encode", function()
      assert.equals(hex(pong(12345)), hex(pong("12345")))
      assert.equals(hex(pong(-1)), hex(pong("-1")))
      -- 2^62 is an exact double, so it is accepted as a number.
      assert.equals("4611686018427387904", ts_of(pong(2 ^ 62)))
    end)

    it("refuse fractions, out-of-range values and malformed strings", function()
      local function err(ts) return encode_error("to_server", { tag = "ToServerPong", val = { ts = ts } }) end
      assert.equals("to_server.val.ts: expected an integer, got 0.5", err(0.5))
      assert.equals("to_server.val.ts: integer out of range for i64", err(2 ^ 63))
      assert.equals("to_server.val.ts: integer out of range for i64", err("9223372036854775808"))
      assert.equals('to_server.val.ts: expected a decimal integer string, got "12x"', err("12x"))
      assert.equals('to_server.val.ts: expected a decimal integer string, got "012"', err("012"))
      assert.equals("to_server.val.ts: expected an integer, got inf", err(math.huge))
      assert.equals("to_server.val.ts: expected integer or decimal string, got boolean", err(true))
    end)

    it("cover u64 up to 2^64-1", function()
      local function list(limit)
        return { tag = "ToServerKvRequest", val = { actorId = "A", requestId = 7, data = {
          tag = "KvListRequest", val = { query = { tag = "KvListAllQuery" }, reverse = true, limit = limit } } } }
      end
      local bytes = proto.encode("to_server", list("18446744073709551615"))
      assert.equals("0501410700000001" .. "00" .. "0101" .. "01ffffffffffffffff", hex(bytes))
      assert.same(list("18446744073709551615"), proto.decode("to_server", bytes))
      assert.same(list(3), proto.decode("to_server", proto.encode("to_server", list(3))))
      assert.equals("to_server.val.data.val.limit: integer out of range for u64",
        encode_error("to_server", list(-1)))
      assert.equals("to_server.val.data.val.limit: integer out of range for u64",
        encode_error("to_server", list("18446744073709551616")))
    end)
  end)

  it("round-trips data with every byte value and long strings", function()
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    all = table.concat(all)
    local long = ("é"):rep(300)
    local v = { tag = "ToClientTunnelMessage", val = { messageId = id(7), messageKind = {
      tag = "ToClientWebSocketMessage", val = { data = all:rep(300), binary = true } } } }
    assert.same(v, proto.decode("to_client", proto.encode("to_client", v)))
    local init = { tag = "ToServerInit", val = { name = long, version = 4294967295, totalSlots = 0,
      prepopulateActorNames = { [long] = { metadata = "{}" }, x = { metadata = "" } } } }
    assert.same(init, proto.decode("to_server", proto.encode("to_server", init)))
  end)
end)
