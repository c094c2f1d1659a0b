/*
 * Pure helpers of ngx_pkcs11_module; see ngx_pkcs11_value.h.
 */
#include "ngx_pkcs11_value.h"

#include <string.h>

static const char kScheme[] = "pkcs11:";
static const char kStorePrefix[] = "store:";
static const char kDataPrefix[] = "data:";
static const char kRedacted[] = "***";

static int
lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
has_prefix_nocase(const unsigned char *v, size_t len, const char *prefix)
{
    size_t  n = strlen(prefix), i;

    if (len < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (lower(v[i]) != prefix[i]) {
            return 0;
        }
    }
    return 1;
}

ngx_pkcs11_value_kind_e
ngx_pkcs11_value_classify(const unsigned char *v, size_t len, size_t *uri_off)
{
    size_t  store = sizeof(kStorePrefix) - 1;

    if (has_prefix_nocase(v, len, kScheme)) {
        if (uri_off != NULL) {
            *uri_off = 0;
        }
        return NGX_PKCS11_VALUE_URI;
    }
    if (has_prefix_nocase(v, len, kStorePrefix)
        && has_prefix_nocase(v + store, len - store, kScheme))
    {
        if (uri_off != NULL) {
            *uri_off = store;
        }
        return NGX_PKCS11_VALUE_STORE_URI;
    }
    return NGX_PKCS11_VALUE_OTHER;
}

long
ngx_pkcs11_value_find_variable(const unsigned char *v, size_t len)
{
    const unsigned char  *p = memchr(v, '$', len);

    return p == NULL ? -1 : (long) (p - v);
}

/* Appends n bytes at *pos when they fit; *pos always advances. */
static void
put(unsigned char *out, size_t cap, size_t *pos, const void *src, size_t n)
{
    if (*pos < cap) {
        size_t  room = cap - *pos;

        memcpy(out + *pos, src, n < room ? n : room);
    }
    *pos += n;
}

size_t
ngx_pkcs11_value_redact(const unsigned char *uri, size_t len,
    unsigned char *out, size_t cap)
{
    const unsigned char  *q, *end = uri + len, *attr, *next, *eq;
    size_t                pos = 0, name_len;

    q = memchr(uri, '?', len);
    if (q == NULL) {
        put(out, cap, &pos, uri, len);
        return pos;
    }

    put(out, cap, &pos, uri, (size_t) (q - uri) + 1);

    for (attr = q + 1; attr <= end; attr = next + 1) {
        next = memchr(attr, '&', (size_t) (end - attr));
        if (next == NULL) {
            next = end;
        }
        eq = memchr(attr, '=', (size_t) (next - attr));
        name_len = (size_t) ((eq != NULL ? eq : next) - attr);

        if (eq != NULL && name_len == sizeof("pin-value") - 1
            && has_prefix_nocase(attr, name_len, "pin-value"))
        {
            put(out, cap, &pos, attr, name_len + 1);
            put(out, cap, &pos, kRedacted, sizeof(kRedacted) - 1);
        } else {
            put(out, cap, &pos, attr, (size_t) (next - attr));
        }
        if (next < end) {
            put(out, cap, &pos, "&", 1);
        }
    }
    return pos;
}

int
ngx_pkcs11_value_uri_type(const unsigned char *uri, size_t len,
    const unsigned char **type, size_t *type_len)
{
    const unsigned char  *p, *end, *next, *eq;
    size_t                scheme = sizeof(kScheme) - 1;

    if (!has_prefix_nocase(uri, len, kScheme)) {
        return 0;
    }
    end = memchr(uri, '?', len);
    if (end == NULL) {
        end = uri + len;
    }

    for (p = uri + scheme; p < end; p = next + 1) {
        next = memchr(p, ';', (size_t) (end - p));
        if (next == NULL) {
            next = end;
        }
        eq = memchr(p, '=', (size_t) (next - p));
        if (eq != NULL && eq - p == 4 && memcmp(p, "type", 4) == 0) {
            *type = eq + 1;
            *type_len = (size_t) (next - eq - 1);
            return 1;
        }
    }
    return 0;
}

size_t
ngx_pkcs11_value_rewrite(ngx_pkcs11_rewrite_e mode, const unsigned char *body,
    size_t body_len, unsigned char *out, size_t cap)
{
    size_t  pos = 0;

    if (mode == NGX_PKCS11_REWRITE_STORE) {
        put(out, cap, &pos, kStorePrefix, sizeof(kStorePrefix) - 1);
    } else {
        put(out, cap, &pos, kDataPrefix, sizeof(kDataPrefix) - 1);
    }
    put(out, cap, &pos, body, body_len);
    return pos;
}
