/* fuzz.h — what every fuzz harness (tests/fuzz/fuzz_*.c) defines, and their
 * scratch files (fuzz_tmp.c) for parsers that take a path: one private
 * directory per process under /tmp, each named file created once, then
 * rewritten and cut to size on every call (fast), all removed at exit. */
#ifndef WLB_FUZZ_H
#define WLB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry point; replay.c calls it on every corpus file.  Returns
 * 0; a crash or a sanitizer report is the failure. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file `name` in the scratch directory holding exactly data[0..size);
 * its path (valid until exit); aborts when the file cannot be written. */
const char *fuzz_tmp_file(const char *name, const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (for parsers that take a string; data cut
 * at its first NUL, as a C string is); the
 * caller frees it. */
char *fuzz_tmp_string(const uint8_t *data, size_t size);

#endif
