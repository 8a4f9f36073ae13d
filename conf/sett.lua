-- sett's default configuration: one node, memory store, no Redis needed.
-- Every key and its default is described in docs/configuration.md.
return {
  listen = "127.0.0.1:6420",
  admin_listen = "127.0.0.1:6430",
  log = { level = "info", format = "text" },
}
