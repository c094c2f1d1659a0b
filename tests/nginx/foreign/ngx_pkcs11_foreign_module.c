/*
 * Test-only: replaces the set handler of ngx_http_ssl_module's ssl_certificate_key
 * with a pass-through of its own, the way another module or a changed nginx build
 * would. Load it before ngx_pkcs11_module to see the "unsupported build" error.
 */
#include <ngx_config.h>
#include <ngx_core.h>

static char *
ngx_pkcs11_foreign_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_conf_set_str_array_slot(cf, cmd, conf);
}

static void *
ngx_pkcs11_foreign_create_conf(ngx_cycle_t *cycle)
{
    ngx_uint_t      i;
    ngx_command_t  *cmd;

    for (i = 0; cycle->modules[i] != NULL; i++) {
        if (ngx_strcmp(cycle->modules[i]->name, "ngx_http_ssl_module") != 0) {
            continue;
        }
        for (cmd = cycle->modules[i]->commands; cmd->name.len; cmd++) {
            if (cmd->name.len == sizeof("ssl_certificate_key") - 1
                && ngx_strncmp(cmd->name.data, "ssl_certificate_key",
                               cmd->name.len) == 0
                && cmd->set == ngx_conf_set_str_array_slot)
            {
                cmd->set = ngx_pkcs11_foreign_set;
            }
        }
    }
    return (void *) 1;
}

static ngx_core_module_t  ngx_pkcs11_foreign_module_ctx = {
    ngx_string("pkcs11_foreign"),
    ngx_pkcs11_foreign_create_conf,
    NULL
};

ngx_module_t  ngx_pkcs11_foreign_module = {
    NGX_MODULE_V1,
    &ngx_pkcs11_foreign_module_ctx,
    NULL,
    NGX_CORE_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};
