/* GET /metadata and GET /datacenters, after Rivet 2.2.1's engine/packages/api-public/src/
 * {metadata,datacenters}.rs. RivetKit's remote driver fetches /metadata before anything else and
 * reads `runtime` and `version` (and would follow a `clientEndpoint`, which sett never sends);
 * the Rust build fields have no meaning for a C program and are filled with what is nearest. */
#include "api/api_impl.h"

#include <string.h>

#ifndef SETT_VERSION
#define SETT_VERSION "0.0.0"
#endif

static void api_w_pair(json_w *w, const char *key, const char *value)
{
    json_w_key(w, key);
    json_w_str(w, value);
}

void api_metadata(api_req_t *r)
{
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    api_w_pair(&w, "runtime", "engine");
    api_w_pair(&w, "version", SETT_VERSION);
    api_w_pair(&w, "git_sha", "unknown");
    api_w_pair(&w, "build_timestamp", "unknown");
    api_w_pair(&w, "rustc_version", "none");
    api_w_pair(&w, "rustc_host", "none");
    api_w_pair(&w, "cargo_target", "none");
#ifdef NDEBUG
    api_w_pair(&w, "cargo_profile", "release");
#else
    api_w_pair(&w, "cargo_profile", "debug");
#endif
    json_w_end(&w);
    api_send(r->c, &b);
}

/* The one datacenter, with the URL this client reached sett at (its Host header), which is
 * the public URL as far as the client is concerned. */
void api_datacenters(api_req_t *r)
{
    const slice_t *host = hreq_header(r->req, "host");
    buf_t url = BUF_INIT;
    buf_append_str(&url, "http://");
    if (host && host->len)
        buf_append(&url, host->p, host->len);
    else
        buf_append_str(&url, "127.0.0.1");
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "datacenters");
    json_w_arr_begin(&w);
    json_w_obj_begin(&w);
    json_w_key(&w, "label");
    json_w_int(&w, API_DATACENTER_LABEL);
    api_w_pair(&w, "name", API_DATACENTER);
    json_w_key(&w, "url");
    json_w_strn(&w, (const char *)url.data, url.len);
    json_w_end(&w);
    json_w_end(&w);
    api_w_pagination_str(&w, NULL);
    json_w_end(&w);
    api_send(r->c, &b);
    buf_free(&url);
}
