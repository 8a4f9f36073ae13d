/* Request bodies, checked the way Rivet's axum extractor and serde structs check them, with
 * reasons worded like theirs so that a client sees the same kind of message from either. The
 * Content-Type header is not required: curl and fetch() send text/plain by default, and the
 * body is parsed as JSON whatever it claims to be. */
#include "api/api_impl.h"

#include <stdio.h>
#include <string.h>

static const char api_body_syntax[] = "Failed to parse the request body as JSON";
static const char api_body_data[] = "Failed to deserialize the JSON body into the target type";

static const char *api_body_type_name(unsigned types)
{
    if (types & JSON_MASK(JSON_STRING))
        return "a string";
    if (types & JSON_MASK(JSON_BOOL))
        return "a boolean";
    if (types & JSON_MASK(JSON_NUMBER))
        return "a number";
    if (types & JSON_MASK(JSON_OBJECT))
        return "a map";
    if (types & JSON_MASK(JSON_ARRAY))
        return "a sequence";
    return "a value";
}

const json_value *api_body_parse(api_req_t *r, const json_field *fields, size_t n, json_doc *doc)
{
    json_err jerr;
    const char *text = r->req->body.p ? (const char *)r->req->body.p : "";
    if (json_parse(text, r->req->body.len, doc, &jerr) != JSON_OK) {
        char m[160];
        json_err_format(&jerr, m, sizeof m);
        api_bad_request(r->c, "%s: %s", api_body_syntax, m);
        return NULL;
    }
    const json_value *root = json_doc_root(doc);
    if (!json_is_object(root)) {
        api_bad_request(r->c, "%s: invalid type, expected a map", api_body_data);
        return NULL;
    }
    const char *bad = NULL;
    int rc = json_obj_check(root, fields, n, &bad);
    if (rc == JSON_OK)
        return root;
    if (rc == JSON_EUNKNOWN) {
        buf_t want = BUF_INIT;
        for (size_t i = 0; i < n; i++)
            buf_printf(&want, "%s`%s`", i ? ", " : "", fields[i].key);
        api_bad_request(r->c, "%s: unknown field `%.64s`, expected one of %s", api_body_data, bad,
                        (const char *)want.data);
        buf_free(&want);
    } else if (rc == JSON_EMISSING) {
        api_bad_request(r->c, "%s: missing field `%s`", api_body_data, bad);
    } else {
        unsigned types = 0;
        for (size_t i = 0; i < n; i++)
            if (fields[i].key == bad)
                types = fields[i].types;
        api_bad_request(r->c, "%s: %s: invalid type, expected %s", api_body_data, bad,
                        api_body_type_name(types));
    }
    return NULL;
}

/* Strings reach the engine as C strings, so one holding a NUL byte ("\u0000") could not be
 * stored as sent; it is refused rather than cut short. */
int api_body_text(api_req_t *r, const json_value *obj, const char *key, const char **out)
{
    size_t len = 0;
    *out = NULL;
    if (json_get_str(json_obj_get(obj, key), out, &len) != JSON_OK) {
        *out = NULL;
        return 0;
    }
    if (strlen(*out) != len) {
        api_bad_request(r->c, "%s: %s: strings may not contain NUL characters", api_body_data, key);
        return -1;
    }
    return 0;
}
