/* The machine's single-core FP32 FMA peak (bench/peak.c). */
#ifndef NC_BENCH_PEAK_H
#define NC_BENCH_PEAK_H

/* GFLOP/s of an FMA loop on one core, the best of repeated calls over about
 * `seconds`; *isa receives "avx512", "avx2" or "none" (then 0 is returned). */
double bench_fma_peak(double seconds, const char **isa);

#endif
