/* api_shard.c — the public CP sharders (wlb.h): shard.c's layouts turned into
 * what a loader gathers with (token indices) and the THD metadata of each
 * rank's tensor (cu_seqlens, cu_seqlens_padded; the convention is wlb.h's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "shard.h"
#include "wlb.h"

struct wlb_cp_layout {
	int cp;
	size_t n;                      /* documents */
	enum wlb_cp_mode used;
	struct wlb_cp_piece *pieces;   /* rank r: pieces[pstart[r] .. pstart[r+1]) */
	size_t *pstart;
	int64_t *idx;                  /* rank r: idx[istart[r] .. istart[r+1]) */
	size_t *istart;
	int32_t *cu, *cup;             /* rank r: cu[r * (n + 1) ..], n + 1 each */
};

void wlb_cp_layout_destroy(wlb_cp_layout *s)
{
	if (!s)
		return;
	free(s->pieces);
	free(s->pstart);
	free(s->idx);
	free(s->istart);
	free(s->cu);
	free(s->cup);
	free(s);
}

static int fail(char *errbuf, size_t errlen, int code, const char *msg)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", msg);
	return code;
}

static int piece_cmp(const void *a, const void *b)
{
	const struct wlb_cp_piece *x = a, *y = b;
	if (x->doc != y->doc)
		return x->doc < y->doc ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Rank r's THD arrays from its pieces (documents ascending). */
static void rank_thd(wlb_cp_layout *s, const struct wlb_sharding *sh, const uint32_t *lengths, int r)
{
	int32_t *cu = s->cu + (size_t)r * (s->n + 1), *cup = s->cup + (size_t)r * (s->n + 1);
	uint32_t slots = 2u * (uint32_t)s->cp;

	memset(cu, 0, (s->n + 1) * sizeof *cu);
	for (size_t k = s->pstart[r]; k < s->pstart[r + 1]; k++)
		cu[s->pieces[k].doc + 1] += (int32_t)(s->pieces[k].end - s->pieces[k].start);
	cup[0] = 0;
	for (size_t i = 0; i < s->n; i++) {
		int32_t t = cu[i + 1];
		if (s->used == WLB_CP_PER_DOC)
			cup[i + 1] = cup[i] + (int32_t)((lengths[i] + slots - 1) / slots * 2);
		else
			cup[i + 1] = cup[i] + t;
		cu[i + 1] += cu[i];
	}
	/* per-seq, hybrid: the rank's share of the sequence's end padding */
	if (s->used != WLB_CP_PER_DOC && s->n > 0)
		cup[s->n] = (int32_t)sh->tokens_per_rank;
}

int wlb_cp_shard(wlb_cp_layout **out, const uint32_t *lengths, size_t n, int cp,
		 enum wlb_cp_mode mode, char *errbuf, size_t errlen)
{
	struct wlb_sharding sh;
	struct wlb_doc *docs = NULL;
	uint64_t *at = NULL, total = 0;
	wlb_cp_layout *s = NULL;
	int rc = WLB_ENOMEM;

	*out = NULL;
	if (mode != WLB_CP_PER_SEQ && mode != WLB_CP_PER_DOC && mode != WLB_CP_ADAPTIVE &&
	    mode != WLB_CP_HYBRID)
		return fail(errbuf, errlen, WLB_EINVAL,
			    "mode must be per-seq (0), per-doc (1), adaptive (2) or hybrid (3)");
	if (cp < 1 || cp > 4096)
		return fail(errbuf, errlen, WLB_EINVAL, "cp must be 1 to 4096");
	for (size_t i = 0; i < n; i++) {
		if (lengths[i] < 1)
			return fail(errbuf, errlen, WLB_EINVAL, "every document length must be at least 1");
		total += lengths[i];
	}
	if (total + 2u * (uint64_t)cp > INT32_MAX)
		return fail(errbuf, errlen, WLB_ERANGE, "the documents' total must stay below 2^31 tokens "
			    "(cu_seqlens are int32)");
	if (wlb_sharding_init(&sh, cp))
		return fail(errbuf, errlen, WLB_ENOMEM, "out of memory");
	docs = malloc((n ? n : 1) * sizeof *docs);
	at = malloc((n ? n : 1) * sizeof *at);
	s = calloc(1, sizeof *s);
	if (!docs || !at || !s)
		goto done;
	total = 0;
	for (size_t i = 0; i < n; i++) {
		docs[i] = (struct wlb_doc){(uint32_t)i, lengths[i], 0};
		at[i] = total;
		total += lengths[i];
	}
	if (wlb_shard(&sh, (enum wlb_shard_kind)mode, docs, n, NULL))
		goto done;
	s->cp = cp;
	s->n = n;
	s->used = sh.used == WLB_SHARD_PER_DOC ? WLB_CP_PER_DOC
		  : sh.used == WLB_SHARD_HYBRID ? WLB_CP_HYBRID : WLB_CP_PER_SEQ;
	s->pieces = malloc((sh.n_pieces ? sh.n_pieces : 1) * sizeof *s->pieces);
	s->pstart = malloc(((size_t)cp + 1) * sizeof *s->pstart);
	s->idx = malloc((total ? total : 1) * sizeof *s->idx);
	s->istart = malloc(((size_t)cp + 1) * sizeof *s->istart);
	s->cu = malloc((size_t)cp * (n + 1) * sizeof *s->cu);
	s->cup = malloc((size_t)cp * (n + 1) * sizeof *s->cup);
	if (!s->pieces || !s->pstart || !s->idx || !s->istart || !s->cu || !s->cup)
		goto done;
	size_t ti = 0;
	for (int r = 0; r <= cp; r++) {
		s->pstart[r] = sh.rank_start[r];
		if (r == cp)
			break;
		s->istart[r] = ti;
		for (size_t k = sh.rank_start[r]; k < sh.rank_start[r + 1]; k++) {
			const struct wlb_piece *p = &sh.pieces[k];
			uint32_t lo = p->kv_len - p->q_len;
			s->pieces[k] = (struct wlb_cp_piece){p->doc, lo, p->kv_len};
		}
		/* hybrid deals cut documents before the whole ones' chunk: put the
		 * rank's pieces in document order, so each document's tokens are
		 * contiguous in the rank's tensor (the static layouts already are) */
		size_t np = sh.rank_start[r + 1] - sh.rank_start[r];
		qsort(s->pieces + sh.rank_start[r], np, sizeof *s->pieces, piece_cmp);
		for (size_t k = sh.rank_start[r]; k < sh.rank_start[r + 1]; k++)
			for (uint32_t x = s->pieces[k].start; x < s->pieces[k].end; x++)
				s->idx[ti++] = (int64_t)(at[s->pieces[k].doc] + x);
	}
	s->istart[cp] = ti;
	for (int r = 0; r < cp; r++)
		rank_thd(s, &sh, lengths, r);
	*out = s;
	s = NULL;
	rc = 0;
done:
	if (rc)
		fail(errbuf, errlen, rc, "out of memory");
	wlb_cp_layout_destroy(s);
	wlb_sharding_free(&sh);
	free(docs);
	free(at);
	return rc;
}

enum wlb_cp_mode wlb_cp_layout_used(const wlb_cp_layout *s)
{
	return s->used;
}

int wlb_cp_layout_cp(const wlb_cp_layout *s)
{
	return s->cp;
}

size_t wlb_cp_rank_pieces(const wlb_cp_layout *s, int r, const struct wlb_cp_piece **p)
{
	if (r < 0 || r >= s->cp) {
		*p = NULL;
		return 0;
	}
	*p = s->pieces + s->pstart[r];
	return s->pstart[r + 1] - s->pstart[r];
}

size_t wlb_cp_rank_token_index(const wlb_cp_layout *s, int r, const int64_t **idx)
{
	if (r < 0 || r >= s->cp) {
		*idx = NULL;
		return 0;
	}
	*idx = s->idx + s->istart[r];
	return s->istart[r + 1] - s->istart[r];
}

size_t wlb_cp_rank_cu_seqlens(const wlb_cp_layout *s, int r, const int32_t **cu,
			      const int32_t **cu_padded)
{
	if (r < 0 || r >= s->cp) {
		*cu = *cu_padded = NULL;
		return 0;
	}
	*cu = s->cu + (size_t)r * (s->n + 1);
	*cu_padded = s->cup + (size_t)r * (s->n + 1);
	return s->n + 1;
}
