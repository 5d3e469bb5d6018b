#include "grow.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int wlb_grow(void *pbuf, size_t *cap, size_t need, size_t elem)
{
	void *old, *nb;
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	memcpy(&old, pbuf, sizeof old);
	nb = realloc(old, n * elem);
	if (!nb)
		return WLB_ENOMEM;
	memcpy(pbuf, &nb, sizeof nb);
	*cap = n;
	return 0;
}
