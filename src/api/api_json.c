/* Rivet's Actor, Runner and Namespace objects (engine/packages/types/src/{actors,runners,
 * namespaces}.rs at 2.2.1), member for member and in Rivet's order. Optional timestamps the
 * engine keeps as 0 go out as null, as Rivet's Option<i64> fields do. */
#include "api/api_impl.h"

#include <stdio.h>
#include <string.h>

static void api_w_str(json_w *w, const char *key, const char *v)
{
    json_w_key(w, key);
    json_w_str(w, v);
}

static void api_w_int(json_w *w, const char *key, int64_t v)
{
    json_w_key(w, key);
    json_w_int(w, v);
}

static void api_w_opt_ts(json_w *w, const char *key, int64_t ts)
{
    json_w_key(w, key);
    if (ts)
        json_w_int(w, ts);
    else
        json_w_null(w);
}

static const char *api_crash_policy_name(store_crash_policy_t p)
{
    switch (p) {
    case STORE_CRASH_RESTART: return "restart";
    case STORE_CRASH_SLEEP: return "sleep";
    case STORE_CRASH_DESTROY: break;
    }
    return "destroy";
}

void api_w_actor(json_w *w, const eng_actor_t *a)
{
    json_w_obj_begin(w);
    api_w_str(w, "actor_id", a->actor_id);
    api_w_str(w, "name", a->name);
    api_w_str(w, "key", a->key);
    api_w_str(w, "namespace_id", a->ns->namespace_id);
    api_w_str(w, "datacenter", API_DATACENTER);
    api_w_str(w, "runner_name_selector", a->runner_name_selector);
    api_w_str(w, "crash_policy", api_crash_policy_name(a->crash_policy));
    api_w_int(w, "create_ts", a->create_ts);
    api_w_opt_ts(w, "start_ts", a->start_ts);
    api_w_opt_ts(w, "pending_allocation_ts", a->pending_allocation_ts);
    api_w_opt_ts(w, "connectable_ts", a->connectable_ts);
    api_w_opt_ts(w, "sleep_ts", a->sleep_ts);
    /* The engine retries placement at once instead of backing off, so nothing is ever
     * scheduled for later. */
    api_w_opt_ts(w, "reschedule_ts", 0);
    api_w_opt_ts(w, "destroy_ts", a->destroy_ts);
    json_w_end(w);
}

/* Rivet's runner metadata is a JSON object or null. The runner sends it as text, so anything
 * that is not an object (or does not parse) goes out as null rather than as invalid JSON. */
static void api_w_runner_metadata(json_w *w, const char *text)
{
    json_w_key(w, "metadata");
    json_doc doc;
    if (text && json_parse(text, strlen(text), &doc, NULL) == JSON_OK &&
        json_is_object(json_doc_root(&doc)))
        json_w_value(w, json_doc_root(&doc));
    else
        json_w_null(w);
    if (text)
        json_doc_free(&doc);
}

void api_w_runner(json_w *w, const eng_runner_t *r)
{
    json_w_obj_begin(w);
    api_w_str(w, "runner_id", r->runner_id);
    api_w_str(w, "namespace_id", r->ns->namespace_id);
    api_w_str(w, "datacenter", API_DATACENTER);
    api_w_str(w, "name", r->name);
    api_w_str(w, "key", r->runner_key);
    api_w_int(w, "version", r->version);
    api_w_int(w, "total_slots", r->total_slots);
    api_w_int(w, "remaining_slots",
              r->used_slots < r->total_slots ? r->total_slots - r->used_slots : 0);
    api_w_int(w, "create_ts", r->create_ts);
    /* The engine keeps whether a runner drains but not since when, and forgets a runner once
     * it is stopped, so neither time is known here. */
    api_w_opt_ts(w, "drain_ts", 0);
    api_w_opt_ts(w, "stop_ts", 0);
    api_w_int(w, "last_ping_ts", r->last_ping_ts);
    api_w_opt_ts(w, "last_connected_ts", r->last_connect_ts);
    int64_t rtt = r->rtt_ms < 0 ? 0 : r->rtt_ms;
    api_w_int(w, "last_rtt", rtt > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX : rtt);
    api_w_runner_metadata(w, r->metadata);
    json_w_end(w);
}

void api_w_namespace(json_w *w, const eng_ns_t *ns)
{
    json_w_obj_begin(w);
    api_w_str(w, "namespace_id", ns->namespace_id);
    api_w_str(w, "name", ns->name);
    api_w_str(w, "display_name", ns->display_name);
    api_w_int(w, "create_ts", ns->create_ts);
    json_w_end(w);
}

void api_w_pagination_ts(json_w *w, bool has_cursor, int64_t ts)
{
    json_w_key(w, "pagination");
    json_w_obj_begin(w);
    json_w_key(w, "cursor");
    if (has_cursor) {
        char s[24];
        int n = snprintf(s, sizeof s, "%lld", (long long)ts);
        json_w_strn(w, s, (size_t)n);
    } else {
        json_w_null(w);
    }
    json_w_end(w);
}

void api_w_pagination_str(json_w *w, const char *cursor)
{
    json_w_key(w, "pagination");
    json_w_obj_begin(w);
    json_w_key(w, "cursor");
    json_w_str(w, cursor);
    json_w_end(w);
}
