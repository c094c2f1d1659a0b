/*
 * ngx_pkcs11_module: `ssl_certificate_key "pkcs11:...";` for stock nginx.
 *
 * nginx before 1.29 loads keys only from files, data: values and engines. This
 * module wraps the `set` handler of ssl_certificate_key and ssl_certificate in the
 * http, stream and mail ssl modules (only when the handler is the stock
 * ngx_conf_set_str_array_slot) and, for a pkcs11: value:
 *
 *   1. refuses nginx variables and checks that the pkcs11 provider is loaded;
 *   2. loads the object through OSSL_STORE now, so `nginx -t` reports a malformed
 *      URI, a missing or ambiguous object or a wrong PIN with file and line;
 *   3. hands nginx a value it loads itself: "data:" plus the key-reference PEM the
 *      provider's encoder writes (decoded back by the provider's decoder), or
 *      "store:pkcs11:..." on nginx >= 1.29; certificates become "data:" plus
 *      their PEM.
 *
 * After the ssl modules have built their SSL_CTXs, postconfiguration collects the
 * provider keys they hold; each worker signs once with every one of them in
 * init_process (after fork, setuid and environment stripping) with bounded retry,
 * so the provider re-initialises the token and re-finds the key before the first
 * handshake. `pkcs11_metrics;` serves the provider's Prometheus text.
 *
 * The module is linked -z nodelete and its cleanups never walk ngx_cycle (in a
 * worker's exit it points at a cycle without modules).
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_stream.h>
#include <ngx_stream_ssl_module.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#include "ngx_pkcs11_value.h"
#include "pkcs11_provider.h"        /* the provider's public parameter names */

#define NGX_PKCS11_PROVIDER      "pkcs11"
#define NGX_PKCS11_METRICS_PARAM PKCS11_PROVIDER_PARAM_METRICS
#define NGX_PKCS11_URI_PEM_BEGIN "-----BEGIN PKCS#11 PROVIDER URI-----"
#define NGX_PKCS11_ERRBUF        2048

#if (nginx_version >= 1029000)
#define NGX_PKCS11_NATIVE_STORE  1
#else
#define NGX_PKCS11_NATIVE_STORE  0
#endif


typedef struct {
    ngx_str_t          uri;        /* redacted, for log lines */
    EVP_PKEY          *pkey;       /* as loaded while parsing */
} ngx_pkcs11_loaded_t;


typedef struct {
    EVP_PKEY          *pkey;       /* held by an SSL_CTX; we keep a reference */
    ngx_str_t          uri;        /* redacted URI it was configured with */
} ngx_pkcs11_served_t;


typedef struct {
    ngx_flag_t         warmup;
    ngx_msec_t         warmup_timeout;
    ngx_array_t        loaded;     /* ngx_pkcs11_loaded_t */
    ngx_array_t        served;     /* ngx_pkcs11_served_t */
    ngx_array_t        providers;  /* OSSL_PROVIDER * from pkcs11_provider */
    ngx_uint_t         unsupported; /* an ssl module whose handler we do not know */
    u_char            *unsupported_what;
} ngx_pkcs11_conf_t;


typedef struct {
    ngx_array_t       *passwords;  /* ngx_str_t, from ssl_password_file */
    ngx_uint_t         next;
} ngx_pkcs11_pw_t;


static void *ngx_pkcs11_create_conf(ngx_cycle_t *cycle);
static char *ngx_pkcs11_init_conf(ngx_cycle_t *cycle, void *conf);
static ngx_int_t ngx_pkcs11_init_process(ngx_cycle_t *cycle);
static char *ngx_pkcs11_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_pkcs11_http_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_pkcs11_http_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_pkcs11_stream_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_pkcs11_stream_postconfiguration(ngx_conf_t *cf);
static char *ngx_pkcs11_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_pkcs11_http_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_pkcs11_stream_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_pkcs11_mail_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_pkcs11_commands[] = {

    { ngx_string("pkcs11_provider"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_pkcs11_provider,
      0,
      0,
      NULL },

    { ngx_string("pkcs11_warmup"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_pkcs11_conf_t, warmup),
      NULL },

    { ngx_string("pkcs11_warmup_timeout"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      0,
      offsetof(ngx_pkcs11_conf_t, warmup_timeout),
      NULL },

      ngx_null_command
};


static ngx_core_module_t  ngx_pkcs11_module_ctx = {
    ngx_string("pkcs11"),
    ngx_pkcs11_create_conf,
    ngx_pkcs11_init_conf
};


ngx_module_t  ngx_pkcs11_module = {
    NGX_MODULE_V1,
    &ngx_pkcs11_module_ctx,
    ngx_pkcs11_commands,
    NGX_CORE_MODULE,
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_pkcs11_init_process,               /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_command_t  ngx_http_pkcs11_commands[] = {

    { ngx_string("pkcs11_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_pkcs11_metrics,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_pkcs11_module_ctx = {
    ngx_pkcs11_http_preconfiguration,      /* preconfiguration */
    ngx_pkcs11_http_postconfiguration,     /* postconfiguration */
    NULL, NULL, NULL, NULL, NULL, NULL
};


ngx_module_t  ngx_http_pkcs11_module = {
    NGX_MODULE_V1,
    &ngx_http_pkcs11_module_ctx,
    ngx_http_pkcs11_commands,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};


/*
 * The stream module lives in Debian's ngx_stream_module.so, which may be loaded
 * before or after this one or not at all: nothing here links to a stream symbol,
 * stream modules are found by name in cycle->modules.
 */
static ngx_stream_module_t  ngx_stream_pkcs11_module_ctx = {
    ngx_pkcs11_stream_preconfiguration,    /* preconfiguration */
    ngx_pkcs11_stream_postconfiguration,   /* postconfiguration */
    NULL, NULL, NULL, NULL
};


ngx_module_t  ngx_stream_pkcs11_module = {
    NGX_MODULE_V1,
    &ngx_stream_pkcs11_module_ctx,
    NULL,
    NGX_STREAM_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};


/* ---------------------------------------------------------------------------
 * Patching the ssl modules' command tables
 */

typedef struct {
    const char        *module;
    char            *(*wrapper)(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
} ngx_pkcs11_target_t;


static const ngx_pkcs11_target_t  ngx_pkcs11_targets[] = {
    { "ngx_http_ssl_module",   ngx_pkcs11_http_set },
    { "ngx_stream_ssl_module", ngx_pkcs11_stream_set },
    { "ngx_mail_ssl_module",   ngx_pkcs11_mail_set },
};


static ngx_module_t *
ngx_pkcs11_find_module(ngx_cycle_t *cycle, const char *name)
{
    ngx_uint_t  i;

    if (cycle->modules == NULL) {
        return NULL;
    }
    for (i = 0; cycle->modules[i] != NULL; i++) {
        if (ngx_strcmp(cycle->modules[i]->name, name) == 0) {
            return cycle->modules[i];
        }
    }
    return NULL;
}


static ngx_uint_t
ngx_pkcs11_is_directive(ngx_command_t *cmd)
{
    return (cmd->name.len == sizeof("ssl_certificate_key") - 1
            && ngx_strncmp(cmd->name.data, "ssl_certificate_key",
                           cmd->name.len) == 0)
           || (cmd->name.len == sizeof("ssl_certificate") - 1
               && ngx_strncmp(cmd->name.data, "ssl_certificate",
                              cmd->name.len) == 0);
}


/*
 * Installs the wrappers in every ssl module present. Idempotent: called when this
 * module is loaded and again at each http{} and stream{} block, so an ssl module
 * loaded after ours is covered too. A handler that is neither the stock one nor
 * ours is recorded; the block that could use it reports it with file and line.
 */
static void
ngx_pkcs11_patch(ngx_cycle_t *cycle, ngx_pkcs11_conf_t *pcf)
{
    ngx_uint_t      i;
    ngx_module_t   *m;
    ngx_command_t  *cmd;

    for (i = 0; i < sizeof(ngx_pkcs11_targets) / sizeof(ngx_pkcs11_targets[0]);
         i++)
    {
        m = ngx_pkcs11_find_module(cycle, ngx_pkcs11_targets[i].module);
        if (m == NULL || m->commands == NULL) {
            continue;
        }
        for (cmd = m->commands; cmd->name.len; cmd++) {
            if (!ngx_pkcs11_is_directive(cmd)
                || cmd->set == ngx_pkcs11_targets[i].wrapper)
            {
                continue;
            }
            if (cmd->set == ngx_conf_set_str_array_slot) {
                cmd->set = ngx_pkcs11_targets[i].wrapper;
                ngx_log_debug2(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                               "pkcs11: wrapped %s %V",
                               ngx_pkcs11_targets[i].module, &cmd->name);
                continue;
            }
            if (pcf != NULL) {
                pcf->unsupported = 1;
                pcf->unsupported_what = (u_char *) ngx_pkcs11_targets[i].module;
            }
        }
    }
}


static ngx_int_t
ngx_pkcs11_check_supported(ngx_conf_t *cf, const char *ssl_module)
{
    ngx_pkcs11_conf_t  *pcf;

    pcf = (ngx_pkcs11_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                             ngx_pkcs11_module);
    ngx_pkcs11_patch(cf->cycle, pcf);

    if (pcf->unsupported
        && ngx_strcmp(pcf->unsupported_what, ssl_module) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
            "pkcs11: this nginx build's %s is not supported by "
            "ngx_pkcs11_module: its ssl_certificate/ssl_certificate_key "
            "handler is not ngx_conf_set_str_array_slot (another module "
            "replaced it, or nginx changed); rebuild ngx_pkcs11_module "
            "against this nginx's source tree", ssl_module);
        return NGX_ERROR;
    }
    return NGX_OK;
}


/* ---------------------------------------------------------------------------
 * Configuration of the core module
 */

static void
ngx_pkcs11_cleanup(void *data)
{
    ngx_pkcs11_conf_t    *pcf = data;
    ngx_uint_t            i;
    ngx_pkcs11_loaded_t  *loaded = pcf->loaded.elts;
    ngx_pkcs11_served_t  *served = pcf->served.elts;
    OSSL_PROVIDER       **prov = pcf->providers.elts;

    for (i = 0; i < pcf->loaded.nelts; i++) {
        EVP_PKEY_free(loaded[i].pkey);
    }
    pcf->loaded.nelts = 0;
    for (i = 0; i < pcf->served.nelts; i++) {
        EVP_PKEY_free(served[i].pkey);
    }
    pcf->served.nelts = 0;
    for (i = pcf->providers.nelts; i > 0; i--) {
        OSSL_PROVIDER_unload(prov[i - 1]);
    }
    pcf->providers.nelts = 0;
}


static void *
ngx_pkcs11_create_conf(ngx_cycle_t *cycle)
{
    ngx_pkcs11_conf_t   *pcf;
    ngx_pool_cleanup_t  *cln;

    pcf = ngx_pcalloc(cycle->pool, sizeof(ngx_pkcs11_conf_t));
    if (pcf == NULL) {
        return NULL;
    }
    pcf->warmup = NGX_CONF_UNSET;
    pcf->warmup_timeout = NGX_CONF_UNSET_MSEC;

    if (ngx_array_init(&pcf->loaded, cycle->pool, 4,
                       sizeof(ngx_pkcs11_loaded_t)) != NGX_OK
        || ngx_array_init(&pcf->served, cycle->pool, 4,
                          sizeof(ngx_pkcs11_served_t)) != NGX_OK
        || ngx_array_init(&pcf->providers, cycle->pool, 2,
                          sizeof(OSSL_PROVIDER *)) != NGX_OK)
    {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NULL;
    }
    cln->handler = ngx_pkcs11_cleanup;
    cln->data = pcf;

    /* load_module runs this at once: patch the ssl modules already loaded. */
    ngx_pkcs11_patch(cycle, pcf);

    return pcf;
}


static char *
ngx_pkcs11_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_pkcs11_conf_t  *pcf = conf;

    ngx_conf_init_value(pcf->warmup, 1);
    ngx_conf_init_msec_value(pcf->warmup_timeout, 10000);

    return NGX_CONF_OK;
}


/* The OpenSSL error queue as one line; the pkcs11 provider's errors first. */
static u_char *
ngx_pkcs11_errors(u_char *buf, size_t size)
{
    u_char         *p = buf, *last = buf + size - 1;
    unsigned long   e;
    const char     *data, *reason, *lib;
    int             flags;
    ngx_uint_t      ours = 0, n = 0;
    unsigned long   codes[16];
    const char     *datas[16];

    /* Keep at most 16; prefer the provider's own messages (they name the URI,
     * the PKCS#11 function and the CKR_ name), OpenSSL's generic ones otherwise. */
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (n < 16) {
            codes[n] = e;
            datas[n] = (flags & ERR_TXT_STRING) ? data : "";
            lib = ERR_lib_error_string(e);
            if (lib != NULL && ngx_strcmp(lib, NGX_PKCS11_PROVIDER) == 0) {
                ours++;
            }
            n++;
        }
    }

    *p = '\0';
    for (ngx_uint_t i = 0; i < n && p < last; i++) {
        lib = ERR_lib_error_string(codes[i]);
        if (ours
            && (lib == NULL || ngx_strcmp(lib, NGX_PKCS11_PROVIDER) != 0))
        {
            continue;
        }
        reason = ERR_reason_error_string(codes[i]);
        p = ngx_slprintf(p, last, "%s%s%s%s%s", p == buf ? "" : "; ",
                         reason ? reason : "error",
                         datas[i][0] ? ": " : "", datas[i], "");
    }
    if (p == buf) {
        p = ngx_slprintf(p, last, "no further detail from OpenSSL");
    }
    *p = '\0';
    return buf;
}


static char *
ngx_pkcs11_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_pkcs11_conf_t  *pcf = conf;
    ngx_str_t          *value = cf->args->elts;
    OSSL_PROVIDER      *prov, **slot;
    const char         *names[2];
    u_char              errbuf[NGX_PKCS11_ERRBUF];
    ngx_uint_t          i;

    names[0] = "default";
    names[1] = (const char *) ngx_pnalloc(cf->pool, value[1].len + 1);
    if (names[1] == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_cpystrn((u_char *) names[1], value[1].data, value[1].len + 1);

    /* Loading any provider explicitly stops OpenSSL from loading "default" by
     * itself, and TLS needs it: load it first. */
    for (i = 0; i < 2; i++) {
        ERR_clear_error();
        prov = OSSL_PROVIDER_load(NULL, names[i]);
        if (prov == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                "pkcs11: cannot load the OpenSSL provider \"%s\": %s "
                "(its parameters come from the openssl.cnf that OPENSSL_CONF "
                "names; list it there without \"activate\")", names[i],
                ngx_pkcs11_errors(errbuf, sizeof(errbuf)));
            return NGX_CONF_ERROR;
        }
        slot = ngx_array_push(&pcf->providers);
        if (slot == NULL) {
            OSSL_PROVIDER_unload(prov);
            return NGX_CONF_ERROR;
        }
        *slot = prov;
    }
    return NGX_CONF_OK;
}


/* ---------------------------------------------------------------------------
 * Loading a pkcs11: value while the configuration is parsed
 */

/* PEM-style password callback over ssl_password_file's lines. A PIN that fails
 * is never retried by the provider, so only the first line is offered: a second
 * wrong PIN would only bring the token closer to locking. */
static int
ngx_pkcs11_password_cb(char *buf, int size, int rwflag, void *userdata)
{
    ngx_pkcs11_pw_t  *pw = userdata;
    ngx_str_t        *lines;
    size_t            n;

    (void) rwflag;
    if (pw == NULL || pw->passwords == NULL
        || pw->passwords == NGX_CONF_UNSET_PTR
        || pw->passwords->nelts == 0 || pw->next > 0 || size <= 0)
    {
        return -1;
    }
    lines = pw->passwords->elts;
    n = lines[0].len;
    if (n > (size_t) size) {
        return -1;
    }
    ngx_memcpy(buf, lines[0].data, n);
    pw->next++;
    return (int) n;
}


static ngx_str_t
ngx_pkcs11_redacted(ngx_pool_t *pool, ngx_str_t *uri)
{
    ngx_str_t  r = ngx_null_string;
    size_t     n;

    n = ngx_pkcs11_value_redact(uri->data, uri->len, NULL, 0);
    r.data = ngx_pnalloc(pool, n);
    if (r.data != NULL) {
        r.len = ngx_pkcs11_value_redact(uri->data, uri->len, r.data, n);
    }
    return r;
}


/*
 * Loads the one object of the wanted kind (OSSL_STORE_INFO_PKEY or _CERT) that
 * `uri` names. Returns the store info, or NULL after an [emerg] naming the URI.
 */
static OSSL_STORE_INFO *
ngx_pkcs11_load(ngx_conf_t *cf, ngx_str_t *uri, ngx_str_t *shown, int want,
    ngx_array_t *passwords)
{
    const char       *what = want == OSSL_STORE_INFO_CERT
                             ? "certificate" : "private key";
    char             *curi;
    ngx_pkcs11_pw_t   pw = { passwords, 0 };
    UI_METHOD        *ui;
    OSSL_STORE_CTX   *store;
    OSSL_STORE_INFO  *info, *found = NULL;
    ngx_uint_t        count = 0, failures = 0;
    u_char            errbuf[NGX_PKCS11_ERRBUF];

    errbuf[0] = '\0';
    curi = (char *) ngx_pnalloc(cf->temp_pool, uri->len + 1);
    if (curi == NULL) {
        return NULL;
    }
    ngx_cpystrn((u_char *) curi, uri->data, uri->len + 1);

    /* Always a callback of ours: with none, OpenSSL would fall back to a
     * terminal prompt, and `nginx -t` must never block on one. */
    ui = UI_UTIL_wrap_read_pem_callback(ngx_pkcs11_password_cb, 0);
    if (ui == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: UI_UTIL_wrap_read_pem_callback() failed");
        return NULL;
    }

    ERR_clear_error();
    store = OSSL_STORE_open_ex(curi, NULL, NULL, ui, &pw, NULL, NULL, NULL);
    if (store == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: cannot open \"%V\": %s", shown,
                           ngx_pkcs11_errors(errbuf, sizeof(errbuf)));
        UI_destroy_method(ui);
        return NULL;
    }
    (void) OSSL_STORE_expect(store, want);

    /* An object that fails to load (say, a key type the provider does not offer
     * for this token) is remembered and skipped, so a URI that matches several
     * objects is still reported as ambiguous. */
    while (!OSSL_STORE_eof(store) && failures < 64) {
        info = OSSL_STORE_load(store);
        if (info == NULL) {
            if (ERR_peek_error() != 0) {
                if (failures++ == 0) {
                    ngx_pkcs11_errors(errbuf, sizeof(errbuf));
                }
                ERR_clear_error();
            }
            continue;
        }
        if (OSSL_STORE_INFO_get_type(info) == want) {
            count++;
            if (found == NULL) {
                found = info;
                continue;
            }
        }
        OSSL_STORE_INFO_free(info);
    }

    if (count > 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: \"%V\" is ambiguous: it matches %ui "
                           "%ss; add object= or id= to name one", shown,
                           count + failures, what);
        OSSL_STORE_INFO_free(found);
        found = NULL;

    } else if (found == NULL && failures > 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: cannot load %s \"%V\": %s", what, shown,
                           errbuf);

    } else if (found == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: no %s matches \"%V\"%s", what, shown,
                           want == OSSL_STORE_INFO_PKEY
                           ? " (private keys are listed by `openssl storeutl "
                             "-provider pkcs11 -provider default -keys "
                             "pkcs11:`)" : "");

    } else if (failures > 0) {
        /* One usable object and others that failed: the URI still names more
         * than one object, which nginx would not know to choose between. */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: \"%V\" is ambiguous: it matches %ui "
                           "%ss (%ui of them unusable: %s); add object= or "
                           "id= to name one", shown, count + failures, what,
                           failures, errbuf);
        OSSL_STORE_INFO_free(found);
        found = NULL;
    }

    ERR_clear_error();
    OSSL_STORE_close(store);
    UI_destroy_method(ui);
    return found;
}


/* The PEM text of `bio` as a "data:" value in cf->pool. */
static ngx_int_t
ngx_pkcs11_data_value(ngx_conf_t *cf, BIO *bio, ngx_str_t *out)
{
    char    *pem;
    long     len;
    size_t   n;

    len = BIO_get_mem_data(bio, &pem);
    if (len <= 0) {
        return NGX_ERROR;
    }
    n = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_DATA, (u_char *) pem,
                                 (size_t) len, NULL, 0);
    out->data = ngx_pnalloc(cf->pool, n + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }
    out->len = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_DATA,
                                        (u_char *) pem, (size_t) len,
                                        out->data, n);
    out->data[out->len] = '\0';
    return NGX_OK;
}


static ngx_int_t
ngx_pkcs11_rewrite_key(ngx_conf_t *cf, ngx_pkcs11_conf_t *pcf, ngx_str_t *uri,
    ngx_str_t *shown, ngx_array_t *passwords, ngx_str_t *out)
{
    OSSL_STORE_INFO      *info;
    EVP_PKEY             *pkey;
    const OSSL_PROVIDER  *prov;
    ngx_pkcs11_loaded_t  *loaded;
    BIO                  *bio;
    char                 *pem;
    long                  len;
    ngx_int_t             rc = NGX_ERROR;
    u_char                errbuf[NGX_PKCS11_ERRBUF];

    info = ngx_pkcs11_load(cf, uri, shown, OSSL_STORE_INFO_PKEY, passwords);
    if (info == NULL) {
        return NGX_ERROR;
    }
    pkey = OSSL_STORE_INFO_get1_PKEY(info);
    OSSL_STORE_INFO_free(info);
    if (pkey == NULL) {
        return NGX_ERROR;
    }

    prov = EVP_PKEY_get0_provider(pkey);
    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "pkcs11: \"%V\": %s %d-bit private key from provider \"%s\"",
                  shown, EVP_PKEY_get0_type_name(pkey), EVP_PKEY_get_bits(pkey),
                  prov ? OSSL_PROVIDER_get0_name(prov) : "(legacy)");

    loaded = ngx_array_push(&pcf->loaded);
    if (loaded == NULL) {
        EVP_PKEY_free(pkey);
        return NGX_ERROR;
    }
    loaded->uri = *shown;
    loaded->pkey = pkey;

    if (NGX_PKCS11_NATIVE_STORE) {
        size_t  n = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_STORE,
                                             uri->data, uri->len, NULL, 0);
        out->data = ngx_pnalloc(cf->pool, n + 1);
        if (out->data == NULL) {
            return NGX_ERROR;
        }
        out->len = ngx_pkcs11_value_rewrite(NGX_PKCS11_REWRITE_STORE,
                                            uri->data, uri->len, out->data, n);
        out->data[out->len] = '\0';
        return NGX_OK;
    }

    /* The provider's encoder writes the key-reference PEM (the key's canonical
     * URI, never key material); nginx's PEM_read_bio_PrivateKey() hands it back
     * to the provider's decoder. */
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }
    ERR_clear_error();
    if (!PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: the provider cannot write a key reference "
                           "for \"%V\": %s", shown,
                           ngx_pkcs11_errors(errbuf, sizeof(errbuf)));
        goto done;
    }
    len = BIO_get_mem_data(bio, &pem);
    if (len < (long) (sizeof(NGX_PKCS11_URI_PEM_BEGIN) - 1)
        || ngx_strncmp(pem, NGX_PKCS11_URI_PEM_BEGIN,
                       sizeof(NGX_PKCS11_URI_PEM_BEGIN) - 1) != 0)
    {
        /* Not a key reference: whatever it is, it must not reach a config value. */
        OPENSSL_cleanse(pem, (size_t) (len > 0 ? len : 0));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: \"%V\" was not loaded by the pkcs11 "
                           "provider (no key-reference PEM for it); check "
                           "that no other provider serves pkcs11: URIs", shown);
        goto done;
    }
    rc = ngx_pkcs11_data_value(cf, bio, out);

done:
    BIO_free(bio);
    return rc;
}


static ngx_int_t
ngx_pkcs11_rewrite_cert(ngx_conf_t *cf, ngx_str_t *uri, ngx_str_t *shown,
    ngx_str_t *out)
{
    OSSL_STORE_INFO  *info;
    X509             *x509;
    BIO              *bio;
    ngx_int_t         rc = NGX_ERROR;

    info = ngx_pkcs11_load(cf, uri, shown, OSSL_STORE_INFO_CERT, NULL);
    if (info == NULL) {
        return NGX_ERROR;
    }
    x509 = OSSL_STORE_INFO_get1_CERT(info);
    OSSL_STORE_INFO_free(info);
    if (x509 == NULL) {
        return NGX_ERROR;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL && PEM_write_bio_X509(bio, x509)) {
        rc = ngx_pkcs11_data_value(cf, bio, out);
    }
    BIO_free(bio);
    X509_free(x509);
    return rc;
}


/*
 * The common part of the wrapped handlers. `passwords` is the ssl module's
 * ssl_password_file list visible at this point (may be NULL or unset).
 */
static char *
ngx_pkcs11_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf,
    ngx_array_t *passwords)
{
    ngx_str_t          *value = cf->args->elts, uri, shown, rewritten;
    ngx_pkcs11_conf_t  *pcf;
    size_t              off = 0;
    long                var;
    ngx_uint_t          is_key;
    const u_char       *type;
    size_t              type_len;

    if (ngx_pkcs11_module.index == NGX_MODULE_UNSET_INDEX
        || cf->cycle->modules[ngx_pkcs11_module.index] != &ngx_pkcs11_module
        || ngx_pkcs11_value_classify(value[1].data, value[1].len, &off)
           == NGX_PKCS11_VALUE_OTHER)
    {
        /* Not a pkcs11: value, or this cycle does not load us: stock nginx. */
        return ngx_conf_set_str_array_slot(cf, cmd, conf);
    }

    pcf = (ngx_pkcs11_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                             ngx_pkcs11_module);
    is_key = cmd->name.len == sizeof("ssl_certificate_key") - 1;
    uri.data = value[1].data + off;
    uri.len = value[1].len - off;
    shown = ngx_pkcs11_redacted(cf->pool, &uri);

    var = ngx_pkcs11_value_find_variable(value[1].data, value[1].len);
    if (var >= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: \"%V\" contains \"$\" at offset %l: nginx "
                           "variables are not supported in pkcs11: values "
                           "(write a literal \"$\" as %%24)", &shown, var);
        return NGX_CONF_ERROR;
    }

    if (ngx_pkcs11_value_uri_type(uri.data, uri.len, &type, &type_len)) {
        ngx_uint_t  cert_type = type_len == 4 && ngx_strncmp(type, "cert", 4) == 0;
        ngx_uint_t  priv_type = type_len == 7
                                && ngx_strncmp(type, "private", 7) == 0;

        if ((is_key && !priv_type) || (!is_key && !cert_type)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "pkcs11: \"%V\" names type=%*s, but %V needs "
                               "type=%s", &shown, type_len, type, &cmd->name,
                               is_key ? "private" : "cert");
            return NGX_CONF_ERROR;
        }
    }

    if (!OSSL_PROVIDER_available(NULL, NGX_PKCS11_PROVIDER)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pkcs11: cannot use \"%V\": the \"pkcs11\" OpenSSL "
                           "provider is not loaded; add \"pkcs11_provider "
                           "pkcs11;\" at the top of nginx.conf, or activate it "
                           "in the openssl.cnf that OPENSSL_CONF names", &shown);
        return NGX_CONF_ERROR;
    }

    if (is_key) {
        if (ngx_pkcs11_rewrite_key(cf, pcf, &uri, &shown, passwords, &rewritten)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    } else if (ngx_pkcs11_rewrite_cert(cf, &uri, &shown, &rewritten) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    value[1] = rewritten;
    return ngx_conf_set_str_array_slot(cf, cmd, conf);
}


/* ssl_password_file of the server, else of the enclosing http{} block. */
static char *
ngx_pkcs11_http_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ssl_srv_conf_t  *sscf = conf, *top = NULL;
    ngx_http_conf_ctx_t      *hctx;
    ngx_module_t             *ssl;
    ngx_array_t              *pw = sscf->passwords;

    if (pw == NULL || pw == NGX_CONF_UNSET_PTR) {
        ssl = ngx_pkcs11_find_module(cf->cycle, "ngx_http_ssl_module");
        hctx = (ngx_http_conf_ctx_t *) cf->cycle->conf_ctx[ngx_http_module.index];
        if (ssl != NULL && hctx != NULL) {
            top = hctx->srv_conf[ssl->ctx_index];
            pw = top->passwords;
        }
    }
    return ngx_pkcs11_set(cf, cmd, conf, pw == NGX_CONF_UNSET_PTR ? NULL : pw);
}


static char *
ngx_pkcs11_stream_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_ssl_conf_t  *scf = conf, *top;
    ngx_stream_conf_ctx_t  *sctx;
    ngx_module_t           *ssl, *stream;
    ngx_array_t            *pw = scf->passwords;

    if (pw == NULL || pw == NGX_CONF_UNSET_PTR) {
        ssl = ngx_pkcs11_find_module(cf->cycle, "ngx_stream_ssl_module");
        stream = ngx_pkcs11_find_module(cf->cycle, "ngx_stream_module");
        if (ssl != NULL && stream != NULL) {
            sctx = (ngx_stream_conf_ctx_t *) cf->cycle->conf_ctx[stream->index];
            if (sctx != NULL) {
                top = sctx->srv_conf[ssl->ctx_index];
                pw = top->passwords;
            }
        }
    }
    return ngx_pkcs11_set(cf, cmd, conf, pw == NGX_CONF_UNSET_PTR ? NULL : pw);
}


/* mail: the PIN comes from the provider configuration. */
static char *
ngx_pkcs11_mail_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_pkcs11_set(cf, cmd, conf, NULL);
}


/* ---------------------------------------------------------------------------
 * After the ssl modules' merge: which provider keys the SSL_CTXs hold
 */

static void
ngx_pkcs11_collect_ctx(ngx_conf_t *cf, SSL_CTX *ctx)
{
    ngx_pkcs11_conf_t    *pcf;
    ngx_pkcs11_served_t  *served;
    ngx_pkcs11_loaded_t  *loaded;
    EVP_PKEY             *pkey;
    const OSSL_PROVIDER  *prov;
    ngx_uint_t            i, seen;
    int                   rc;

    if (ctx == NULL) {
        return;
    }
    pcf = (ngx_pkcs11_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                             ngx_pkcs11_module);

    for (rc = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);
         rc == 1;
         rc = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT))
    {
        pkey = SSL_CTX_get0_privatekey(ctx);
        if (pkey == NULL) {
            continue;
        }
        prov = EVP_PKEY_get0_provider(pkey);
        if (prov == NULL
            || ngx_strcmp(OSSL_PROVIDER_get0_name(prov), NGX_PKCS11_PROVIDER)
               != 0)
        {
            continue;
        }

        served = pcf->served.elts;
        for (i = 0, seen = 0; i < pcf->served.nelts; i++) {
            if (served[i].pkey == pkey) {
                seen = 1;
            }
        }
        if (seen) {
            continue;
        }
        served = ngx_array_push(&pcf->served);
        if (served == NULL || !EVP_PKEY_up_ref(pkey)) {
            if (served != NULL) {
                pcf->served.nelts--;
            }
            continue;
        }
        served->pkey = pkey;
        ngx_str_set(&served->uri, "(a pkcs11 key)");

        loaded = pcf->loaded.elts;
        for (i = 0; i < pcf->loaded.nelts; i++) {
            if (EVP_PKEY_eq(loaded[i].pkey, pkey) == 1) {
                served->uri = loaded[i].uri;
                break;
            }
        }
        ERR_clear_error();
    }
}


static ngx_int_t
ngx_pkcs11_http_preconfiguration(ngx_conf_t *cf)
{
    return ngx_pkcs11_check_supported(cf, "ngx_http_ssl_module");
}


static ngx_int_t
ngx_pkcs11_http_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_core_srv_conf_t   **cscf;
    ngx_http_ssl_srv_conf_t     *sscf;
    ngx_module_t                *ssl;
    ngx_uint_t                   s;

    ssl = ngx_pkcs11_find_module(cf->cycle, "ngx_http_ssl_module");
    if (ssl == NULL) {
        return NGX_OK;
    }
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscf = cmcf->servers.elts;
    for (s = 0; s < cmcf->servers.nelts; s++) {
        sscf = cscf[s]->ctx->srv_conf[ssl->ctx_index];
        ngx_pkcs11_collect_ctx(cf, sscf->ssl.ctx);
    }
    return NGX_OK;
}


static ngx_int_t
ngx_pkcs11_stream_preconfiguration(ngx_conf_t *cf)
{
    return ngx_pkcs11_check_supported(cf, "ngx_stream_ssl_module");
}


static ngx_int_t
ngx_pkcs11_stream_postconfiguration(ngx_conf_t *cf)
{
    ngx_stream_core_main_conf_t   *cmcf;
    ngx_stream_core_srv_conf_t   **cscf;
    ngx_stream_ssl_conf_t         *scf;
    ngx_module_t                  *ssl, *core;
    ngx_uint_t                     s;

    ssl = ngx_pkcs11_find_module(cf->cycle, "ngx_stream_ssl_module");
    core = ngx_pkcs11_find_module(cf->cycle, "ngx_stream_core_module");
    if (ssl == NULL || core == NULL) {
        return NGX_OK;
    }
    cmcf = ((ngx_stream_conf_ctx_t *) cf->ctx)->main_conf[core->ctx_index];
    cscf = cmcf->servers.elts;
    for (s = 0; s < cmcf->servers.nelts; s++) {
        scf = cscf[s]->ctx->srv_conf[ssl->ctx_index];
        ngx_pkcs11_collect_ctx(cf, scf->ssl.ctx);
    }
    return NGX_OK;
}


/* ---------------------------------------------------------------------------
 * Worker warm-up
 */

static int
ngx_pkcs11_sign_once(EVP_PKEY *pkey)
{
    static const unsigned char  msg[] = "ngx_pkcs11_module warm-up";
    EVP_MD_CTX                 *md;
    const char                 *digest = "SHA256";
    unsigned char               sig[1024];
    size_t                      siglen = sizeof(sig);
    int                         ok;

    if (EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448")) {
        digest = NULL;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return 0;
    }
    ok = EVP_DigestSignInit_ex(md, NULL, digest, NULL, NULL, pkey, NULL) == 1
         && EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg) - 1) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}


static ngx_int_t
ngx_pkcs11_init_process(ngx_cycle_t *cycle)
{
    ngx_pkcs11_conf_t    *pcf;
    ngx_pkcs11_served_t  *served;
    ngx_uint_t            i, attempt;
    ngx_msec_t            start, elapsed, delay;
    u_char                errbuf[NGX_PKCS11_ERRBUF];

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }
    pcf = (ngx_pkcs11_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_pkcs11_module);
    if (pcf == NULL || !pcf->warmup) {
        return NGX_OK;
    }

    served = pcf->served.elts;
    for (i = 0; i < pcf->served.nelts; i++) {
        ngx_time_update();
        start = ngx_current_msec;
        delay = 20;

        for (attempt = 1; /* void */; attempt++) {
            ERR_clear_error();
            if (ngx_pkcs11_sign_once(served[i].pkey)) {
                ngx_time_update();
                ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                              "pkcs11: worker %P (uid %d): key \"%V\" ready, "
                              "warm-up signature in %M ms, attempt %ui",
                              ngx_pid, (int) getuid(), &served[i].uri,
                              ngx_current_msec - start, attempt);
                break;
            }

            ngx_time_update();
            elapsed = ngx_current_msec - start;
            if (elapsed + delay > pcf->warmup_timeout) {
                /* Not fatal: the provider retries on the next handshake, and
                 * a worker that exits with 2 is never respawned. */
                ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                              "pkcs11: worker %P (uid %d): key \"%V\" still "
                              "unusable after %ui attempts in %M ms: %s",
                              ngx_pid, (int) getuid(), &served[i].uri, attempt,
                              elapsed, ngx_pkcs11_errors(errbuf, sizeof(errbuf)));
                break;
            }
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "pkcs11: worker %P: warm-up of \"%V\" failed "
                          "(attempt %ui), retrying in %M ms: %s", ngx_pid,
                          &served[i].uri, attempt, delay,
                          ngx_pkcs11_errors(errbuf, sizeof(errbuf)));
            ngx_msleep(delay);
            delay = ngx_min(delay * 2, 1000);
        }
    }
    ERR_clear_error();
    return NGX_OK;
}


/* ---------------------------------------------------------------------------
 * pkcs11_metrics: the provider's Prometheus text
 */

static int
ngx_pkcs11_find_provider(OSSL_PROVIDER *prov, void *data)
{
    if (ngx_strcmp(OSSL_PROVIDER_get0_name(prov), NGX_PKCS11_PROVIDER) == 0) {
        *(OSSL_PROVIDER **) data = prov;
        return 0;
    }
    return 1;
}


static ngx_int_t
ngx_pkcs11_metrics_text(ngx_http_request_t *r, ngx_str_t *text)
{
    OSSL_PROVIDER  *prov = NULL;
    OSSL_PARAM      params[2];
    size_t          cap = 0;
    ngx_uint_t      tries;

    OSSL_PROVIDER_do_all(NULL, ngx_pkcs11_find_provider, &prov);
    if (prov == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pkcs11_metrics: the \"pkcs11\" provider is not loaded");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* Size, then fetch; the text may grow between the two calls. */
    for (tries = 0; tries < 4; tries++) {
        params[0] = OSSL_PARAM_construct_utf8_string(NGX_PKCS11_METRICS_PARAM,
                                                     NULL, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (cap == 0) {
            if (!OSSL_PROVIDER_get_params(prov, params)
                || !OSSL_PARAM_modified(&params[0]))
            {
                break;
            }
            cap = params[0].return_size + 4096;
        }
        text->data = ngx_pnalloc(r->pool, cap);
        if (text->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        params[0] = OSSL_PARAM_construct_utf8_string(NGX_PKCS11_METRICS_PARAM,
                                                     (char *) text->data, cap);
        if (OSSL_PROVIDER_get_params(prov, params)
            && OSSL_PARAM_modified(&params[0]))
        {
            text->len = ngx_strnlen(text->data, cap);
            ERR_clear_error();
            return NGX_OK;
        }
        cap = params[0].return_size > cap ? params[0].return_size + 4096
                                          : cap * 2;
    }

    ERR_clear_error();
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "pkcs11_metrics: the \"pkcs11\" provider does not report "
                  "metrics (parameter \"" NGX_PKCS11_METRICS_PARAM "\")");
    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


static ngx_int_t
ngx_pkcs11_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t    rc;
    ngx_str_t    text = ngx_null_string;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_pkcs11_metrics_text(r, &text);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = (off_t) text.len;

    if (r->method == NGX_HTTP_HEAD || text.len == 0) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->pos = text.data;
    b->last = text.data + text.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    return ngx_http_output_filter(r, &out);
}


static char *
ngx_pkcs11_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_pkcs11_metrics_handler;
    return NGX_CONF_OK;
}
