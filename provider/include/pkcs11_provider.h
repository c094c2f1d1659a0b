/* Parameters of the pkcs11 OpenSSL provider (pkcs11.so) that host integrations read with
 * OpenSSL's own API. C and C++; nothing to link: the names are all there is.
 *
 * PKCS11_PROVIDER_PARAM_METRICS — "pkcs11-metrics", type OSSL_PARAM_UTF8_STRING, gettable
 * with OSSL_PROVIDER_get_params() (listed by OSSL_PROVIDER_gettable_params()).
 *
 *   The value is the provider's metrics in the Prometheus text exposition format 0.0.4
 *   (Content-Type: text/plain; version=0.0.4; charset=utf-8), ending with a newline:
 *
 *     hsm_operations_total{operation,key_label,key_id,hsm_id,result}  counter
 *     hsm_operation_duration_seconds{operation}                       histogram
 *     hsm_key_loads_total{key_label,key_id,hsm_id,result}             counter
 *     hsm_authentication_failure_total{hsm_id}                        counter
 *     hsm_metrics_dropped_total                                       counter
 *
 *   operation is "sign" (later also "decrypt", "derive"); result is "ok" or "error";
 *   key_label is the key's CKA_LABEL, key_id its CKA_ID in lower-case hex, hsm_id the token
 *   serial. No PIN, URI query or key material appears. The counters are the sum over every
 *   process that shares the provider's state: the process that loaded the provider and
 *   every process forked from it afterwards (nginx's master and workers, across
 *   `nginx -s reload`). A process that loads the provider itself has counters of its own.
 *
 *   Size protocol (OpenSSL's OSSL_PARAM_set_utf8_string, with one stricter rule):
 *   - data == NULL: the call succeeds (returns 1) and sets return_size to the length of
 *     the text in bytes, not counting a terminating NUL.
 *   - data != NULL and data_size >= length + 1: the text and a terminating NUL are
 *     copied, return_size is the length, the call returns 1.
 *   - data != NULL and data_size < length + 1 (no room for the NUL either): nothing is
 *     copied, return_size is set to the length, and OSSL_PROVIDER_get_params returns 0
 *     without putting an error on the error queue. Grow the buffer to at least
 *     return_size + 1 and call again.
 *   - data_type other than OSSL_PARAM_UTF8_STRING: returns 0 with an error queued.
 *   The text is rendered afresh on every call and grows while the provider works (new
 *   keys, wider numbers), so a size from one call may be too small for the next: size
 *   the buffer with some slack and retry on 0 while return_size >= data_size. Each call
 *   reads live counters without stopping the operations that update them; every value is
 *   exact, the text as a whole is not one instant. Rendering allocates and takes time
 *   proportional to the number of keys (at most 256 key series and 64 token series; more
 *   are counted in series with empty labels and in hsm_metrics_dropped_total); it never
 *   blocks an operation and never calls the PKCS#11 module.
 *
 *   A C caller, e.g. a content handler:
 *
 *     OSSL_PROVIDER *prov = OSSL_PROVIDER_load(NULL, "pkcs11"); // already loaded: a ref
 *     OSSL_PARAM q[] = {
 *         OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, NULL, 0), OSSL_PARAM_END};
 *     if (!OSSL_PROVIDER_get_params(prov, q)) { fail; }
 *     for (int tries = 0; tries < 3; tries++) {
 *         size_t cap = q[0].return_size + 1 + 4096;            // slack for growth
 *         char *buf = malloc(cap);
 *         OSSL_PARAM p[] = {
 *             OSSL_PARAM_utf8_string(PKCS11_PROVIDER_PARAM_METRICS, buf, cap),
 *             OSSL_PARAM_END};
 *         if (OSSL_PROVIDER_get_params(prov, p)) { use(buf, p[0].return_size); break; }
 *         free(buf);
 *         if (p[0].return_size < cap) { fail; }                // not a size problem
 *         q[0].return_size = p[0].return_size;                 // grew: retry bigger
 *     }
 *     OSSL_PROVIDER_unload(prov);
 */
#ifndef PKCS11_PROVIDER_H
#define PKCS11_PROVIDER_H

#define PKCS11_PROVIDER_PARAM_METRICS "pkcs11-metrics"

#endif /* PKCS11_PROVIDER_H */
