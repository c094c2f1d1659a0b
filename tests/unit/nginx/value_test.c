/* CMocka tests of ngx_pkcs11_value.c: classifying, redacting and rewriting
 * ssl_certificate(_key) values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ngx_pkcs11_value.h"

#define U(s) ((const unsigned char *) (s))

static void
classify_schemes(void **state)
{
    size_t  off = 99;

    (void) state;
    assert_int_equal(ngx_pkcs11_value_classify(U("pkcs11:object=web"), 17, &off),
                     NGX_PKCS11_VALUE_URI);
    assert_int_equal(off, 0);
    /* RFC 3986: the scheme is case-insensitive. */
    assert_int_equal(ngx_pkcs11_value_classify(U("PKCS11:object=web"), 17, NULL),
                     NGX_PKCS11_VALUE_URI);
    assert_int_equal(ngx_pkcs11_value_classify(U("store:pkcs11:id=%01"), 19, &off),
                     NGX_PKCS11_VALUE_STORE_URI);
    assert_int_equal(off, 6);
    assert_int_equal(ngx_pkcs11_value_classify(U("Store:Pkcs11:"), 13, &off),
                     NGX_PKCS11_VALUE_STORE_URI);
}

static void
classify_other_values(void **state)
{
    static const char *const others[] = {
        "/etc/nginx/key.pem", "key.pem", "data:-----BEGIN PRIVATE KEY-----",
        "engine:pkcs11:pkcs11:object=web", "store:file:/x", "pkcs11", "pkcs1:",
        "store:", "store:pkcs11", " pkcs11:object=web", "",
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(ngx_pkcs11_value_classify(U(others[i]), strlen(others[i]),
                                                   NULL),
                         NGX_PKCS11_VALUE_OTHER);
    }
    /* The length bounds the match, not a NUL. */
    assert_int_equal(ngx_pkcs11_value_classify(U("pkcs11:"), 6, NULL),
                     NGX_PKCS11_VALUE_OTHER);
}

static void
variables_found_with_offset(void **state)
{
    (void) state;
    assert_int_equal(ngx_pkcs11_value_find_variable(U("pkcs11:object=$host"), 19), 14);
    assert_int_equal(ngx_pkcs11_value_find_variable(U("$ssl_server_name"), 16), 0);
    assert_int_equal(ngx_pkcs11_value_find_variable(U("pkcs11:object=a%24b"), 19), -1);
    /* A '$' beyond the given length is not part of the value. */
    assert_int_equal(ngx_pkcs11_value_find_variable(U("pkcs11:x$"), 8), -1);
}

static void
check_redact(const char *in, const char *want)
{
    unsigned char  out[256];
    size_t         n;

    n = ngx_pkcs11_value_redact(U(in), strlen(in), out, sizeof(out));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void
redact_pin_value_only(void **state)
{
    (void) state;
    check_redact("pkcs11:object=web", "pkcs11:object=web");
    check_redact("pkcs11:object=web?pin-value=1234", "pkcs11:object=web?pin-value=***");
    check_redact("pkcs11:object=web?module-name=softhsm2&pin-value=secret&x-a=b",
                 "pkcs11:object=web?module-name=softhsm2&pin-value=***&x-a=b");
    check_redact("pkcs11:?pin-value=a&pin-value=b", "pkcs11:?pin-value=***&pin-value=***");
    /* pin-source names a file, which is fine to show. */
    check_redact("pkcs11:id=%01?pin-source=file:/etc/pin",
                 "pkcs11:id=%01?pin-source=file:/etc/pin");
    check_redact("pkcs11:object=web?", "pkcs11:object=web?");
    check_redact("pkcs11:object=web?pin-value", "pkcs11:object=web?pin-value");
    check_redact("pkcs11:object=web?pin-value=", "pkcs11:object=web?pin-value=***");
    /* A path attribute named like it is not a PIN. */
    check_redact("pkcs11:object=pin-value=1", "pkcs11:object=pin-value=1");
}

static void
redact_sizes_and_truncates(void **state)
{
    const char     *in = "pkcs11:object=web?pin-value=123456789";
    const char     *want = "pkcs11:object=web?pin-value=***";
    unsigned char   out[10];
    size_t          n;

    (void) state;
    n = ngx_pkcs11_value_redact(U(in), strlen(in), NULL, 0);
    assert_int_equal(n, strlen(want));
    memset(out, 'Z', sizeof(out));
    n = ngx_pkcs11_value_redact(U(in), strlen(in), out, 5);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, "pkcs1", 5);
    assert_int_equal(out[5], 'Z');
}

static void
check_type(const char *uri, const char *want)
{
    const unsigned char  *type = NULL;
    size_t                len = 0;
    int                   found;

    found = ngx_pkcs11_value_uri_type(U(uri), strlen(uri), &type, &len);
    if (want == NULL) {
        assert_int_equal(found, 0);
        return;
    }
    assert_int_equal(found, 1);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(type, want, len);
}

static void
uri_type_attribute(void **state)
{
    (void) state;
    check_type("pkcs11:object=web;type=private", "private");
    check_type("pkcs11:type=cert;object=web", "cert");
    check_type("pkcs11:object=web;type=", "");
    check_type("pkcs11:object=web", NULL);
    check_type("pkcs11:object=type=private", NULL);
    /* Query attributes are not path attributes. */
    check_type("pkcs11:object=web?type=cert", NULL);
    check_type("pkcs11:object=web;type=public?pin-source=file:/p", "public");
    check_type("file:/etc/key.pem;type=cert", NULL);
}

static void
rewrite_data_and_store(void **state)
{
    const char     *pem = "-----BEGIN PKCS#11 PROVIDER URI-----\nMAo=\n"
                          "-----END PKCS#11 PROVIDER URI-----\n";
    unsigned char   out[256];
    size_t          n;

    (void) state;
    n = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_DATA, U(pem), strlen(pem), NULL, 0);
    assert_int_equal(n, 5 + strlen(pem));
    n = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_DATA, U(pem), strlen(pem), out,
                                 sizeof(out));
    assert_memory_equal(out, "data:", 5);
    assert_memory_equal(out + 5, pem, strlen(pem));

    n = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_STORE, U("pkcs11:object=web"), 17,
                                 out, sizeof(out));
    assert_int_equal(n, 23);
    assert_memory_equal(out, "store:pkcs11:object=web", 23);

    /* Too small: the length is still the full one, nothing is written past cap. */
    memset(out, 'Z', sizeof(out));
    n = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_STORE, U("pkcs11:x"), 8, out, 3);
    assert_int_equal(n, 14);
    assert_memory_equal(out, "sto", 3);
    assert_int_equal(out[3], 'Z');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_schemes),
        cmocka_unit_test(classify_other_values),
        cmocka_unit_test(variables_found_with_offset),
        cmocka_unit_test(redact_pin_value_only),
        cmocka_unit_test(redact_sizes_and_truncates),
        cmocka_unit_test(uri_type_attribute),
        cmocka_unit_test(rewrite_data_and_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
