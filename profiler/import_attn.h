/* import_attn.h — attention timings from tools/profile_attn.py's CSV
 * (direction,heads,kv_heads,head_dim,q_len,kv_len,pieces,median_us,p10_us,
 * p90_us,kernel), as imported samples. */
#ifndef WLB_IMPORT_ATTN_H
#define WLB_IMPORT_ATTN_H

#include <stddef.h>

#include "costdb.h"
#include "err.h"

/* Errors name the file and line; a file without rows is an error.  *out is
 * the caller's to free. */
int wlb_attn_csv_parse(const char *path, struct wlb_attn_sample **out, size_t *n,
		       struct wlb_error *err);

#endif
