/* grow.h — geometric growth of reusable buffers, so hot loops allocate only
 * until they are warm. */
#ifndef WLB_GROW_H
#define WLB_GROW_H

#include <stddef.h>

/* Grows the array *(void **)pbuf of *cap elements of elem bytes to hold at
 * least need (doubling).  Returns 0, or WLB_ENOMEM leaving the buffer as is. */
int wlb_grow(void *pbuf, size_t *cap, size_t need, size_t elem);

#define WLB_GROW(buf, cap, need) wlb_grow(&(buf), &(cap), (need), sizeof *(buf))

#endif
