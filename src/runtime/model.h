/* The model handle behind the public nc_model, shared by the runtime's
 * files (api.c, flops.c, and the chip-device glue). */
#ifndef NC_RUNTIME_MODEL_H
#define NC_RUNTIME_MODEL_H

#include <stdatomic.h>

#include "ir/graph.h"
#include "ncore.h"

struct nc_model {
    ir_model *ir;
    atomic_int refs; /* the caller's reference plus one per session */
};

#endif
