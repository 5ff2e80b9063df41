/* libFuzzer target for the .ncx loader: any bytes in, a status out, never a
 * crash, hang or leak. Random bytes almost never carry a valid SHA-256, so
 * each input is loaded twice: as is (the hash check must reject it) and with
 * the hash check off, which reaches the header, section-table, I/O-signature
 * and ISA-decoder checks behind it. A file that loads is disassembled, so
 * decoded instructions are exercised too. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "isa/isa.h"
#include "ncx/ncx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ncx_file *f = NULL;
    if (ncx_load_bytes(data, size, 0, &f) == NC_OK) ncx_free(f);
    f = NULL;
    if (ncx_load_bytes(data, size, NCX_LOAD_NO_HASH, &f) == NC_OK) {
        char line[512];
        for (uint32_t c = 0; c < f->cores; c++)
            for (size_t i = 0; i < f->program_len[c]; i++) isa_disasm(&f->programs[c][i], line, sizeof line);
        ncx_free(f);
    }
    return 0;
}
