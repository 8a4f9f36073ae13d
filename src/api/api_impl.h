/* What the REST API's files share: the request being answered, the query-string reader, the
 * error answers and the JSON writers for Rivet's Actor, Runner and Namespace objects.
 *
 * The shapes follow Rivet 2.2.1 (engine/packages/api-types and engine/packages/types), so that
 * RivetKit clients and tools that read Rivet's JSON read sett's the same way. */
#ifndef SETT_API_API_IMPL_H
#define SETT_API_API_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/json.h"

/* sett is one datacenter, named and labelled as Rivet's default topology names its only one. */
#define API_DATACENTER "default"
#define API_DATACENTER_LABEL 1
/* Rivet's defaults and caps for list queries. */
#define API_LIST_LIMIT 100
#define API_MAX_ACTOR_IDS 32
/* Rivet's caps on actor creation: input as sent (base64 text) and key bytes. */
#define API_MAX_INPUT ((size_t)4 << 20)
#define API_MAX_KEY 1024

/* One request on its way through the API. */
typedef struct api_req {
    eng_t *e;
    net_conn_t *c;
    hreq *req;
    const url_parts *u;
} api_req_t;

/* ---- Answers (api_answer.c) ---- */

/* Answers Rivet's error object {"group","code","message"[,"metadata"]} (json_error_body);
 * headers are raw "Name: value\r\n" lines or NULL. */
void api_error_ex(net_conn_t *c, int status, const char *group, const char *code,
                  const char *message, const json_meta *meta, size_t nmeta, const char *headers);
void api_error(net_conn_t *c, int status, const char *group, const char *code, const char *message);
/* Rivet's api.bad_request: "Request is invalid: REASON", with the reason as metadata. */
void api_bad_request(net_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Rivet's validation.invalid_input. */
void api_invalid_input(net_conn_t *c, const char *message);
void api_actor_not_found(net_conn_t *c);
void api_namespace_not_found(net_conn_t *c);
/* Rivet's api.not_found, which its router answers for every path it does not know. */
void api_route_not_found(net_conn_t *c);
/* 405 with an Allow header listing what the path takes. */
void api_method_not_allowed(net_conn_t *c, const char *allow);
void api_engine_error(net_conn_t *c, const eng_error_t *err);
/* Answers 200 with the JSON in b and frees b. */
void api_send(net_conn_t *c, buf_t *b);

/* The actor a path segment names, checked against the `namespace` parameter when given; NULL
 * after answering 404 (or 400 for a malformed id or query). */
eng_actor_t *api_actor_at(api_req_t *r, const slice_t *seg);
/* GET /actors/{id}/kv/keys/{base64 key} (api_kv.c). */
void api_actors_kv_get(api_req_t *r, const slice_t *id, const slice_t *key);

/* ---- JSON writers (api_json.c) ---- */

void api_w_actor(json_w *w, const eng_actor_t *a);
void api_w_runner(json_w *w, const eng_runner_t *r);
void api_w_namespace(json_w *w, const eng_ns_t *ns);
/* "pagination": {"cursor": ...}: the create_ts of the last item as a string, as Rivet writes
 * it, or null when the page is empty (has_cursor false). */
void api_w_pagination_ts(json_w *w, bool has_cursor, int64_t ts);
/* The same with a string cursor (a name) or null. */
void api_w_pagination_str(json_w *w, const char *cursor);

/* ---- Query strings (api_query.c) ---- */

/* A parameter a route accepts. A repeated parameter (Rivet's Vec<Id> fields) collects every
 * occurrence, joined with commas; any other may appear once. */
typedef struct api_qparam {
    const char *name;
    bool repeated;
} api_qparam_t;

#define API_QMAX 10

typedef struct api_query {
    const api_qparam_t *spec;
    size_t n;
    bool has[API_QMAX];
    buf_t val[API_QMAX]; /* decoded and NUL-terminated */
} api_query_t;

/* Reads the query against spec, as Rivet's strict query structs do: an unknown or repeated
 * parameter, or a malformed escape, is answered 400 and -1 returned. Free q either way. */
int api_query_parse(api_query_t *q, const api_qparam_t *spec, size_t n, net_conn_t *c,
                    const url_parts *u);
void api_query_free(api_query_t *q);
/* The decoded value, or NULL when the parameter is absent. */
const char *api_query_str(const api_query_t *q, const char *name);
/* 1 with *out set, 0 when absent, -1 after answering 400 for a malformed value. */
int api_query_bool(const api_query_t *q, const char *name, bool *out, net_conn_t *c);
int api_query_size(const api_query_t *q, const char *name, size_t *out, net_conn_t *c);
int api_query_i64(const api_query_t *q, const char *name, int64_t *out, net_conn_t *c);
/* The namespace a route works in: the `namespace` parameter, or "default" when absent (RivetKit
 * always sends it; curl users need not). Answers 404 and returns NULL when it does not exist. */
const eng_ns_t *api_query_ns(const api_query_t *q, eng_t *e, net_conn_t *c);

/* A list of ids gathered from a repeated parameter and a comma-separated one. */
typedef struct api_ids {
    char **v;
    size_t n, cap;
} api_ids_t;

/* Appends the ids of a comma-separated list (items trimmed of spaces, as Rivet does); an item
 * that cannot be an id is answered 400 and -1 returned. list may be NULL. */
int api_ids_add(api_ids_t *ids, const char *list, const char *param, net_conn_t *c);
void api_ids_free(api_ids_t *ids);

/* Percent-decodes a path segment into out (size bytes) and NUL-terminates it; -1 after
 * answering 400 when it is malformed or too long. */
int api_path_id(const slice_t *seg, char *out, size_t size, net_conn_t *c);

/* ---- Request bodies (api_body.c) ---- */

/* Parses the body as one JSON object holding only the given fields, required ones present and
 * each of an allowed type, as Rivet's deny_unknown_fields structs demand. On success returns
 * the root object (valid until json_doc_free); otherwise answers 400 api.bad_request with a
 * serde-like reason and returns NULL. Free doc either way. */
const json_value *api_body_parse(api_req_t *r, const json_field *fields, size_t n, json_doc *doc);
/* Sets *out to a string member, or to NULL when it is absent or null; answers 400 and returns
 * -1 when the string holds a NUL byte. */
int api_body_text(api_req_t *r, const json_value *obj, const char *key, const char **out);

/* ---- Routes (api_actors.c, api_runners.c, api_namespaces.c, api_meta.c) ---- */

void api_actors_create(api_req_t *r);
void api_actors_get_or_create(api_req_t *r);
void api_actors_list(api_req_t *r);
void api_actors_names(api_req_t *r);
void api_actors_get(api_req_t *r, const slice_t *id);
void api_actors_delete(api_req_t *r, const slice_t *id);

void api_runners_list(api_req_t *r);
void api_runners_names(api_req_t *r);

void api_namespaces_list(api_req_t *r);
void api_namespaces_create(api_req_t *r);
void api_namespaces_get(api_req_t *r, const slice_t *id);

void api_metadata(api_req_t *r);
void api_datacenters(api_req_t *r);

#endif
