#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char tls_msg[NCB_ERRMSG_MAX];

nc_status ncb_err(nc_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_msg, sizeof tls_msg, fmt, ap);
    va_end(ap);
    return s;
}

nc_status ncb_err_prefix(nc_status s, const char *fmt, ...) {
    char prefix[NCB_ERRMSG_MAX], old[NCB_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls_msg, sizeof old);
    /* Truncation is fine: messages are for people, and the tail is least useful. */
    size_t n = strnlen(prefix, sizeof prefix - 1);
    memcpy(tls_msg, prefix, n);
    size_t rest = sizeof tls_msg - 1 - n;
    size_t m = strnlen(old, rest);
    memcpy(tls_msg + n, old, m);
    tls_msg[n + m] = '\0';
    return s;
}

void ncb_err_clear(void) { tls_msg[0] = '\0'; }

const char *ncb_errmsg(void) { return tls_msg; }

const char *nc_last_error(void) { return tls_msg; }

const char *nc_status_name(nc_status status) {
    switch (status) {
#define X(name, code, text) \
    case NC_##name:         \
        return "NC_" #name;
        NC_STATUS_MAP(X)
#undef X
    }
    return "NC_UNKNOWN";
}

const char *nc_status_str(nc_status status) {
    switch (status) {
#define X(name, code, text) \
    case NC_##name:         \
        return text;
        NC_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}
