#include "router/rt_target.h"
#include "core/alloc.h"
#include "net/ws_handshake.h"

#include <string.h>

/* /gateway/{actor_id}[@token]/rest: the id is the first segment up to an '@', percent-decoded;
 * the token after it is not checked here. */
static int rt_target_path(const url_parts *u, rt_target_t *t)
{
    static const char prefix[] = "/gateway/";
    size_t pos = sizeof prefix - 2;
    slice_t seg;
    url_path_next(&u->path, &pos, &seg);
    size_t idlen = seg.len;
    for (size_t i = 0; i < seg.len; i++)
        if (seg.p[i] == '@') {
            idlen = i;
            break;
        }
    char *dec = sx_malloc(idlen + 1);
    size_t declen = 0;
    if (idlen == 0 || url_decode_segment((const char *)seg.p, idlen, dec, &declen, 0) != URL_OK) {
        free(dec);
        t->error = "bad actor id in the path";
        return RT_TARGET_BAD;
    }
    dec[declen] = '\0';
    const char *rest = (const char *)u->path.p + pos;
    size_t rest_len = u->path.len - pos;
    if (rest_len >= 2 && rest[0] == '/' && rest[1] == '/') {
        free(dec);
        t->error = "empty path segment";
        return RT_TARGET_BAD;
    }
    t->actor_id = dec;
    if (rest_len == 0)
        buf_append_str(&t->path, "/");
    else
        buf_append(&t->path, rest, rest_len);
    if (u->has_query) {
        buf_push(&t->path, '?');
        buf_append(&t->path, u->query.p, u->query.len);
    }
    return RT_TARGET_ACTOR;
}

/* The subprotocols rivet_target.actor and rivet_actor.<id> (the first one offered, decoded, a
 * slash allowed); the id alone does not make the request an actor's. */
static char *rt_target_subprotocol(const hreq *req)
{
    char *actor_id = NULL;
    int target = 0;
    wsh_offers offers;
    wsh_offers_init(&offers);
    wsh_offers_parse(&offers, req);
    for (size_t i = 0; i < offers.n; i++) {
        const slice_t *o = &offers.v[i];
        if (o->len == 18 && memcmp(o->p, "rivet_target.actor", 18) == 0) {
            target = 1;
        } else if (o->len > 12 && memcmp(o->p, "rivet_actor.", 12) == 0 && !actor_id) {
            char *dec = sx_malloc(o->len - 12 + 1);
            size_t dl = 0;
            if (url_decode_segment((const char *)o->p + 12, o->len - 12, dec, &dl,
                                   URL_ALLOW_SLASH) == URL_OK) {
                dec[dl] = '\0';
                actor_id = dec;
            } else {
                free(dec);
            }
        }
    }
    wsh_offers_free(&offers);
    if (!target) {
        free(actor_id);
        actor_id = NULL;
    }
    return actor_id;
}

int rt_target_find(const hreq *req, const url_parts *u, rt_target_t *t)
{
    memset(t, 0, sizeof *t);
    buf_init(&t->path);
    static const char prefix[] = "/gateway/";
    int rc;
    if (u->path.len >= sizeof prefix - 1 && memcmp(u->path.p, prefix, sizeof prefix - 1) == 0) {
        rc = rt_target_path(u, t);
    } else {
        const slice_t *target = hreq_header(req, "x-rivet-target");
        const slice_t *actor = hreq_header(req, "x-rivet-actor");
        if (target && target->len == 5 && memcmp(target->p, "actor", 5) == 0 && actor)
            t->actor_id = sx_strndup((const char *)actor->p, actor->len);
        else if (req->upgrade)
            t->actor_id = rt_target_subprotocol(req);
        if (!t->actor_id)
            return RT_TARGET_NONE;
        buf_append(&t->path, req->url.p, req->url.len);
        rc = RT_TARGET_ACTOR;
    }
    if (rc == RT_TARGET_ACTOR)
        buf_push(&t->path, '\0');
    return rc;
}

void rt_target_free(rt_target_t *t)
{
    free(t->actor_id);
    t->actor_id = NULL;
    buf_free(&t->path);
}
