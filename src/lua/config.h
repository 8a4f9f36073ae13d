/* The loaded configuration as C reads it. The Lua module sett.config owns the schema, the
 * defaults and the validation; cfg_t and the list of keys are generated from that schema
 * (lua/config_keys.h, by tools/config_gen.lua), and this file copies the validated table into
 * a cfg_t. */
#ifndef SETT_LUA_CONFIG_H
#define SETT_LUA_CONFIG_H

#include "core/buf.h"
#include "lua/config_keys.h"
#include "lua/host.h"

/* How long running and checking a configuration file may take: 10 s, generous enough for a
 * slow machine or valgrind, and short enough that a file that never ends cannot hang a reload
 * for long. A fuzz target lowers it. */
extern uint64_t cfg_load_budget_ns;

/* Loads, validates and copies the file at path. On failure returns -1 and appends one line per
 * error to errors. A key the file leaves out without a default is 0, or NULL for strings and
 * lists; an enum holds the index of its value (CFG_<KEY>_<VALUE>). */
int cfg_load(lh_t *h, const char *path, cfg_t *out, buf_t *errors);
/* The registry field where cfg_load leaves the policy's options (`policy = { file =, options =
 * }`) as the Lua table sett.config checked, or nil: the next policy load hands them to the
 * policy as sett.options. */
#define CFG_POLICY_OPTIONS "sett.policy_options"
/* The same for `policy.read_dirs`, the directories sett.read_file may read below. */
#define CFG_POLICY_READ_DIRS "sett.policy_read_dirs"
void cfg_free(cfg_t *c);

/* Compares the running configuration with one just loaded, for a reload. Keys that cannot
 * change while sett serves (flagged restart in the schema: listen addresses, TLS, the store, the
 * runner endpoint's token and timers, the hibernation threshold the runner half also reads) keep
 * their running value in next, so that next describes what runs, and their names are appended
 * to restart; the names of changed keys that take effect live are appended to live. Each name
 * ends with a NUL. Strings of restart-only keys move from running to next (pointers others hold
 * stay valid as long as next lives); afterwards running is only fit for cfg_free. */
void cfg_merge(cfg_t *running, cfg_t *next, buf_t *live, buf_t *restart);

#endif
