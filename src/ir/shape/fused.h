/* The activation attribute shared by the ncore fused ops (ir/ops/fused.def). */
#ifndef NC_IR_SHAPE_FUSED_H
#define NC_IR_SHAPE_FUSED_H

#include "ir/graph.h"

typedef enum ncshape_act {
    NCS_ACT_NONE = 0,
    NCS_ACT_RELU,
    NCS_ACT_CLIP,
    NCS_ACT_SIGMOID,
    NCS_ACT_HARD_SIGMOID,
    NCS_ACT_LEAKY_RELU,
    NCS_ACT_TANH,
    NCS_ACT_SILU,
    NCS_ACT_HARD_SWISH,
    NCS_ACT_GELU,
    NCS_ACT_GELU_TANH,
    NCS_ACT_UNKNOWN,
} ncshape_act;

typedef struct ncshape_act_params {
    ncshape_act kind;
    float alpha, beta; /* with each kind's default filled in */
} ncshape_act_params;

/* The node's activation; kind NCS_ACT_UNKNOWN for a name not listed. */
ncshape_act_params ncshape_fused_act(const ir_node *n);
/* The attribute value for kind ("" for none). */
const char *ncshape_act_name(ncshape_act kind);

#endif
