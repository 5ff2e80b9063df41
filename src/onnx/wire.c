/* A pre-pass over the protobuf wire format. protobuf-c unpacks nested
 * messages recursively, so a file nesting If inside If a million times would
 * overflow the stack inside it; this walk (guided by the generated
 * descriptors, recursion bounded by max_depth) refuses such files first. */
#include <stdint.h>

#include "base/error.h"
#include "onnx/onnx_priv.h"

static int read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= n) return -1;
        uint8_t b = p[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

static nc_status scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth,
                      int max_depth) {
    if (depth > max_depth)
        return ncb_err(NC_ERR_LIMIT,
                       "protobuf messages nested more than %d deep (a subgraph recursion bomb?)",
                       max_depth);
    size_t pos = 0;
    while (pos < n) {
        uint64_t key, v;
        if (read_varint(p, n, &pos, &key))
            return ncb_err(NC_ERR_PARSE, "truncated or malformed protobuf field key in %s",
                           d->name);
        uint32_t wt = (uint32_t)(key & 7);
        uint64_t tag = key >> 3;
        if (tag == 0 || tag > 0x1fffffff)
            return ncb_err(NC_ERR_PARSE, "invalid protobuf field number in %s", d->name);
        switch (wt) {
        case 0:
            if (read_varint(p, n, &pos, &v))
                return ncb_err(NC_ERR_PARSE, "truncated varint in %s field %llu", d->name,
                               (unsigned long long)tag);
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (n - pos < w)
                return ncb_err(NC_ERR_PARSE, "truncated fixed-width field in %s", d->name);
            pos += w;
            break;
        }
        case 2: {
            if (read_varint(p, n, &pos, &v) || v > n - pos)
                return ncb_err(NC_ERR_PARSE, "truncated length-delimited field %llu in %s",
                               (unsigned long long)tag, d->name);
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, (unsigned)tag);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor)
                NCB_TRY(scan(f->descriptor, p + pos, (size_t)v, depth + 1, max_depth));
            pos += (size_t)v;
            break;
        }
        default:
            return ncb_err(NC_ERR_PARSE, "unsupported protobuf wire type %u in %s", wt, d->name);
        }
    }
    return NC_OK;
}

nc_status onnx_wire_check(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                          int max_depth) {
    return scan(desc, data, size, 0, max_depth);
}
