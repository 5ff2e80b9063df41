/* The profile's timeline picture: an SVG drawn from a Chrome trace JSON (the
 * file nc_session_write_trace writes). Public API and cJSON only. */
#ifndef NCORE_TIMELINE_H
#define NCORE_TIMELINE_H

/* Read the Chrome trace at trace_path and draw svg_path: one row per engine
 * and DMA queue of every core that ran, instruction boxes coloured by
 * engine, a layer band per core and a time axis. title goes above it.
 * Returns CLI_OK, or CLI_FAIL after printing an error naming the file. */
int timeline_svg(const char *trace_path, const char *svg_path, const char *title);

#endif
