/* The model handle behind the public nc_model, shared by the runtime's
 * files (api.c, flops.c, and the chip-device glue). */
#ifndef NC_RUNTIME_MODEL_H
#define NC_RUNTIME_MODEL_H

#include <stdatomic.h>

#include "ir/graph.h"
#include "ncore.h"

struct simrt_model;

struct nc_model {
    ir_model *ir;             /* NULL for a compiled model */
    struct simrt_model *sim;  /* a compiled model (.ncx), else NULL */
    atomic_int refs; /* the caller's reference plus one per session */
};

#endif
