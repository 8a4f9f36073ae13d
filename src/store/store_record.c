/* Deep copies and releases of the store records. Every field is listed here once, so a field added
 * to a record in store.h is added to its copy and clear below and nowhere else in this module. */
#include "store/store.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static char *store_dup(const char *s)
{
    return s ? sx_strdup(s) : NULL;
}

void store_ns_copy(store_ns_t *dst, const store_ns_t *src)
{
    *dst = *src;
    dst->namespace_id = store_dup(src->namespace_id);
    dst->name = store_dup(src->name);
}

void store_ns_clear(store_ns_t *ns)
{
    free(ns->namespace_id);
    free(ns->name);
    memset(ns, 0, sizeof *ns);
}

void store_actor_copy(store_actor_t *dst, const store_actor_t *src)
{
    *dst = *src;
    dst->actor_id = store_dup(src->actor_id);
    dst->namespace_id = store_dup(src->namespace_id);
    dst->name = store_dup(src->name);
    dst->key = store_dup(src->key);
    dst->input = src->has_input && src->input_len ? sx_memdup(src->input, src->input_len) : NULL;
    if (!src->has_input)
        dst->input_len = 0;
    dst->runner_name_selector = store_dup(src->runner_name_selector);
    dst->runner_id = store_dup(src->runner_id);
}

void store_actor_clear(store_actor_t *a)
{
    free(a->actor_id);
    free(a->namespace_id);
    free(a->name);
    free(a->key);
    free(a->input);
    free(a->runner_name_selector);
    free(a->runner_id);
    memset(a, 0, sizeof *a);
}

void store_runner_copy(store_runner_t *dst, const store_runner_t *src)
{
    *dst = *src;
    dst->runner_id = store_dup(src->runner_id);
    dst->namespace_id = store_dup(src->namespace_id);
    dst->name = store_dup(src->name);
    dst->runner_key = store_dup(src->runner_key);
    dst->metadata = store_dup(src->metadata);
}

void store_runner_clear(store_runner_t *r)
{
    free(r->runner_id);
    free(r->namespace_id);
    free(r->name);
    free(r->runner_key);
    free(r->metadata);
    memset(r, 0, sizeof *r);
}
