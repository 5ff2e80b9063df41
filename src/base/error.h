/* Error reporting inside the library.
 *
 * A failing function records a message with ncb_err() and returns the status
 * it gives back, so the idiom is `return ncb_err(NC_ERR_SHAPE, "...", ...);`.
 * The message lives in thread-local storage until the next ncb_err() on the
 * same thread; nc_last_error() returns it. Name the thing at fault: the file,
 * node, input or field. */
#ifndef NC_BASE_ERROR_H
#define NC_BASE_ERROR_H

#include "ncore.h"

#define NCB_ERRMSG_MAX 1024

#if defined(__GNUC__)
#define NCB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NCB_PRINTF(a, b)
#endif

/* Record a message for status s and return s. */
nc_status ncb_err(nc_status s, const char *fmt, ...) NCB_PRINTF(2, 3);
/* Prefix the current message with more context ("node 'conv1': ") and
 * return s unchanged. Use when passing an error up. */
nc_status ncb_err_prefix(nc_status s, const char *fmt, ...) NCB_PRINTF(2, 3);
/* Clear the thread's message. */
void ncb_err_clear(void);
const char *ncb_errmsg(void);

/* Propagate a non-OK status. */
#define NCB_TRY(expr)                        \
    do {                                     \
        nc_status ncb_try_s_ = (expr);       \
        if (ncb_try_s_ != NC_OK) return ncb_try_s_; \
    } while (0)

#endif
