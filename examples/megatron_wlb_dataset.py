"""A PyTorch-style IterableDataset that packs a Megatron .bin/.idx corpus
with WLB-LLM's packer (libwlb) and shards each micro-batch over the CP ranks.

    ds = WLBMegatronDataset("corpus_text_document", context=8192, dp=2,
                            microbatches=4, cp=2, sharding="per-doc")
    for mb in ds:          # one micro-batch at a time, in iteration order
        mb["pieces"]       # [(doc_id, offset, length)] packed in this order
        mb["tokens"]       # the packed sequence's token ids
        rank = mb["cp_ranks"][cp_rank]
        rank["tokens"]     # this CP rank's token ids (gathered with token_index)
        rank["cu_seqlens"], rank["cu_seqlens_padded"]   # THD metadata (see wlb.h)

The .idx is parsed here with struct/mmap (Megatron's MMIDIDX format, version
1); every sequence of it is one document.  Token ids come from the .bin
through numpy.memmap when numpy is there, else through mmap + array.  torch
is optional: without it the dataset subclasses object and yields lists.

Run as a script to print the first micro-batches of a corpus:
    python3 examples/megatron_wlb_dataset.py PREFIX --context 8192 --dp 1 --microbatches 2 --cp 2
"""
import array
import mmap
import os
import struct
import sys

try:
    import wlb
except ImportError:  # a source checkout: the package beside this directory
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import wlb

try:
    import torch
    from torch.utils.data import IterableDataset as _Base
except ImportError:
    torch = None
    _Base = object

try:
    import numpy
except ImportError:
    numpy = None

IDX_MAGIC = b"MMIDIDX\x00\x00"
# Megatron's dtype codes: (array typecode, numpy dtype name, bytes)
DTYPES = {1: ("B", "uint8", 1), 2: ("b", "int8", 1), 3: ("h", "int16", 2), 4: ("i", "int32", 4),
          5: ("q", "int64", 8), 6: ("d", "float64", 8), 7: ("f", "float32", 4), 8: ("H", "uint16", 2)}


class MegatronIndex:
    """The .idx of a Megatron indexed dataset: per sequence its length (tokens)
    and byte pointer into the .bin, and the document boundaries."""

    def __init__(self, path):
        with open(path, "rb") as f:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            head = len(IDX_MAGIC) + 8 + 1 + 8 + 8
            if len(buf) < head or buf[:len(IDX_MAGIC)] != IDX_MAGIC:
                raise ValueError("%s: not a Megatron index (expected the MMIDIDX header)" % path)
            at = len(IDX_MAGIC)
            version, = struct.unpack_from("<Q", buf, at)
            code, = struct.unpack_from("<B", buf, at + 8)
            n_seq, n_doc = struct.unpack_from("<QQ", buf, at + 9)
            if version != 1:
                raise ValueError("%s: index version %d, expected 1" % (path, version))
            if code not in DTYPES:
                raise ValueError("%s: unknown dtype code %d" % (path, code))
            if len(buf) < head + n_seq * 12 + n_doc * 8:
                raise ValueError("%s: truncated (%d sequences, %d document indices)" % (path, n_seq, n_doc))
            self.dtype_code = code
            self.lengths = struct.unpack_from("<%di" % n_seq, buf, head)
            self.pointers = struct.unpack_from("<%dq" % n_seq, buf, head + 4 * n_seq)
            self.document_indices = struct.unpack_from("<%dq" % n_doc, buf, head + 12 * n_seq)
        finally:
            buf.close()

    def __len__(self):
        return len(self.lengths)


class MegatronTokens:
    """Token ids of the .bin: tokens(seq, offset, length)."""

    def __init__(self, path, index):
        self.typecode, npname, self.itemsize = DTYPES[index.dtype_code]
        self.index = index
        if numpy is not None:
            self.data = numpy.memmap(path, dtype=npname, mode="r")
        else:
            with open(path, "rb") as f:
                self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def tokens(self, seq, offset, length):
        start = self.index.pointers[seq] // self.itemsize + offset
        if numpy is not None:
            return [int(x) for x in self.data[start:start + length]]
        a = array.array(self.typecode)
        a.frombytes(self.data[start * self.itemsize:(start + length) * self.itemsize])
        if sys.byteorder != "little":
            a.byteswap()
        return a.tolist()


class WLBMegatronDataset(_Base):
    """Yields, in iteration order, every micro-batch of every iteration (or
    only those of DP replica dp_rank) as a dict: iteration, microbatch,
    replica, pieces, tokens, cp_ranks (per CP rank: tokens, token_index,
    cu_seqlens, cu_seqlens_padded, pieces).  With torch, token lists are
    int64 tensors and the cu_seqlens int32 tensors."""

    def __init__(self, prefix, context, dp, microbatches, cp=1, dp_rank=None, sharding="per-doc",
                 **packer_kwargs):
        if _Base is not object:
            super().__init__()
        self.prefix, self.context, self.dp, self.m, self.cp = prefix, context, dp, microbatches, cp
        self.dp_rank, self.sharding, self.packer_kwargs = dp_rank, sharding, packer_kwargs
        self.index = MegatronIndex(prefix + ".idx")
        self.bin = MegatronTokens(prefix + ".bin", self.index)

    def _out(self, values, dtype):
        return torch.tensor(values, dtype=dtype) if torch is not None else list(values)

    def _micro_batches(self, it):
        for b, pieces in enumerate(it.microbatches):
            replica = b // self.m
            if self.dp_rank is not None and replica != self.dp_rank:
                continue
            tokens = []
            for doc, off, n in pieces:
                tokens.extend(self.bin.tokens(doc, off, n))
            layout = wlb.shard([n for _, _, n in pieces], self.cp, self.sharding) if pieces else None
            ranks = []
            for r in range(self.cp):
                rk = layout.ranks[r] if layout else wlb.Rank([], [], [0], [0])
                ranks.append({
                    "tokens": self._out([tokens[i] for i in rk.token_index], torch and torch.int64),
                    "token_index": self._out(rk.token_index, torch and torch.int64),
                    "cu_seqlens": self._out(rk.cu_seqlens, torch and torch.int32),
                    "cu_seqlens_padded": self._out(rk.cu_seqlens_padded, torch and torch.int32),
                    "pieces": rk.pieces,
                })
            yield {"iteration": it.index, "microbatch": b, "replica": replica, "pieces": pieces,
                   "tokens": self._out(tokens, torch and torch.int64), "cp_ranks": ranks}

    def __iter__(self):
        p = wlb.Packer(self.context, self.dp, self.m, cp=self.cp, **self.packer_kwargs)
        for seq, n in enumerate(self.index.lengths):
            if n < 1:
                continue  # an empty sequence holds nothing to train
            p.push(seq, n)
            it = p.next_iteration()
            while it is not None:
                yield from self._micro_batches(it)
                it = p.next_iteration()
        p.finish()
        it = p.next_iteration()
        while it is not None:
            yield from self._micro_batches(it)
            it = p.next_iteration()


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("prefix", help="the corpus without .bin/.idx")
    ap.add_argument("--context", type=int, required=True)
    ap.add_argument("--dp", type=int, default=1)
    ap.add_argument("--microbatches", type=int, default=1)
    ap.add_argument("--cp", type=int, default=1)
    ap.add_argument("--sharding", default="per-doc")
    ap.add_argument("--limit", type=int, default=4, help="micro-batches to print")
    a = ap.parse_args(argv)
    ds = WLBMegatronDataset(a.prefix, a.context, a.dp, a.microbatches, cp=a.cp, sharding=a.sharding)
    for k, mb in enumerate(ds):
        if k >= a.limit:
            break
        print("iteration %d micro-batch %d (replica %d): %d tokens in %d pieces" % (
            mb["iteration"], mb["microbatch"], mb["replica"], len(mb["tokens"]), len(mb["pieces"])))
        for r, rk in enumerate(mb["cp_ranks"]):
            print("  cp rank %d: %d tokens, cu_seqlens %s, cu_seqlens_padded %s" % (
                r, len(rk["tokens"]), list(rk["cu_seqlens"]), list(rk["cu_seqlens_padded"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
