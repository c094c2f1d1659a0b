/*
 * Pure helpers of ngx_pkcs11_module: classifying an ssl_certificate(_key) value,
 * finding nginx variables in it, redacting it for log lines and building the value
 * nginx is given instead. No nginx and no OpenSSL here, so the CMocka tests
 * (tests/unit/nginx) exercise them directly.
 */
#ifndef NGX_PKCS11_VALUE_H_INCLUDED
#define NGX_PKCS11_VALUE_H_INCLUDED

#include <stddef.h>

typedef enum {
    NGX_PKCS11_VALUE_OTHER = 0,    /* a file name, data:, engine:...: not ours */
    NGX_PKCS11_VALUE_URI,          /* "pkcs11:..." */
    NGX_PKCS11_VALUE_STORE_URI     /* "store:pkcs11:..." (nginx >= 1.29 syntax) */
} ngx_pkcs11_value_kind_e;

typedef enum {
    NGX_PKCS11_REWRITE_DATA = 0,   /* "data:" + PEM text */
    NGX_PKCS11_REWRITE_STORE       /* "store:" + URI */
} ngx_pkcs11_rewrite_e;

/*
 * What a directive value is. For the URI kinds, *uri_off (when not NULL) is the
 * offset of "pkcs11:" in the value. The scheme is case-insensitive (RFC 3986).
 */
ngx_pkcs11_value_kind_e ngx_pkcs11_value_classify(const unsigned char *v,
    size_t len, size_t *uri_off);

/*
 * Offset of the first '$' (nginx would take it for a variable), or -1. A literal
 * '$' in a PKCS#11 URI can always be written %24.
 */
long ngx_pkcs11_value_find_variable(const unsigned char *v, size_t len);

/*
 * Copies a URI for a log line with the value of every pin-value query attribute
 * replaced by "***". Writes at most cap bytes (no terminating NUL) and returns the
 * length of the whole redacted text, so a caller can size the buffer first.
 */
size_t ngx_pkcs11_value_redact(const unsigned char *uri, size_t len,
    unsigned char *out, size_t cap);

/*
 * The value of the path attribute `type` ("private", "cert", ...) of a URI
 * starting at "pkcs11:". Returns 1 and sets *type and *type_len when present, else 0.
 */
int ngx_pkcs11_value_uri_type(const unsigned char *uri, size_t len,
    const unsigned char **type, size_t *type_len);

/*
 * The value nginx loads itself: "data:" + body (a PEM text) or "store:" + body
 * (a URI). Writes at most cap bytes (no terminating NUL) and returns the full
 * length.
 */
size_t ngx_pkcs11_value_rewrite(ngx_pkcs11_rewrite_e mode,
    const unsigned char *body, size_t body_len, unsigned char *out, size_t cap);

#endif /* NGX_PKCS11_VALUE_H_INCLUDED */
