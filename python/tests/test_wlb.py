"""Tests of the Python package wlb over libwlb.so: the packer against
`wlb-trace pack --dump` on the same documents, save/restore at every
iteration, the sharders' coverage and THD metadata, errors, and the
examples.  Run: WLB_LIB=build/libwlb.so python3 -m unittest discover python/tests"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import wlb  # noqa: E402

BIN = os.environ.get("WLB_BIN", os.path.join(ROOT, "bin"))
BUILD = os.path.dirname(os.path.realpath(wlb.library_path))


def lengths(seed, n, hi):
    r = random.Random(seed)
    return [max(1, min(hi, int(r.lognormvariate(6.8, 1.4)))) for _ in range(n)]


def run_packer(p, lens, ids=None):
    """Pushes lens one by one, taking every ready iteration, then finishes."""
    out = []
    for i, n in enumerate(lens):
        p.push(ids[i] if ids else i, n)
        it = p.next_iteration()
        while it is not None:
            out.append(it.microbatches)
            it = p.next_iteration()
    p.finish()
    it = p.next_iteration()
    while it is not None:
        out.append(it.microbatches)
        it = p.next_iteration()
    return out


class PackerMatchesTracePack(unittest.TestCase):
    """The same documents through wlb-trace pack --dump and through wlb.Packer."""

    def dump(self, lens, context, dp, m, extra, trace_extra=None):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "lens.txt"), "w") as f:
                f.write("\n".join(map(str, lens)) + "\n")
            t = {"format": "wlb-trace/1", "name": "py", "model": "llama2-7b", "gpu": "h100-sxm",
                 "parallel": dict({"tp": 1, "cp": 2, "pp": 1, "dp": dp, "microbatches": m},
                                  **(trace_extra or {})),
                 "context": context, "data": {"lengths_file": "lens.txt"}}
            with open(os.path.join(d, "t.json"), "w") as f:
                json.dump(t, f)
            out = os.path.join(d, "dump.json")
            subprocess.run([os.path.join(BIN, "wlb-trace"), "pack", os.path.join(d, "t.json"),
                            "--summary", "--dump", out] + extra, check=True, stdout=subprocess.DEVNULL)
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(doc["format"], "wlb-pack-dump/1")
        return [[[tuple(x) for x in mb] for mb in it] for it in doc["iterations"]]

    def check(self, packing, extra, kw, context=8192, dp=2, m=2, seed=1, n=500, trace_extra=None):
        lens = lengths(seed, n, 3 * context)
        want = self.dump(lens, context, dp, m, ["--packing", packing] + extra, trace_extra)
        got = run_packer(wlb.Packer(context, dp, m, packing=packing, cp=2, **kw), lens)
        self.assertGreater(len(want), 3)
        self.assertEqual(len(got), len(want))
        for i, (a, b) in enumerate(zip(got, want)):
            self.assertEqual(a, b, "iteration %d differs" % i)
        # pieces lie inside their documents and never overlap (a piece still
        # in an outlier queue at the end leaves a gap)
        cover = {}
        for it in got:
            self.assertEqual(len(it), dp * m)
            for mb in it:
                for doc, off, n_ in mb:
                    cover.setdefault(doc, []).append((off, n_))
        for doc, parts in cover.items():
            parts.sort()
            at = 0
            for off, n_ in parts:
                self.assertGreaterEqual(off, at, "document %d: pieces overlap" % doc)
                at = off + n_
            self.assertLessEqual(at, lens[doc])
        return got

    def test_wlb_flops(self):
        self.check("wlb", ["--workload", "flops"], {"workload": "flops"})

    def test_wlb_knobs(self):
        self.check("wlb", ["--workload", "flops", "--s-max", "10240", "--thresholds", "1024,3000,6000"],
                   {"s_max": 10240, "thresholds": [1024, 3000, 6000]}, seed=2)

    def test_wlb_cost(self):
        # the cost DB is found beside libwlb.so (build/costdb) as the commands find theirs
        if not os.path.exists(os.path.join(BUILD, "costdb", "h100-sxm.db")):
            self.skipTest("no build/costdb/h100-sxm.db beside the library")
        self.check("wlb", ["--workload", "cost"], {"workload": "cost", "tp": 2},
                   trace_extra={"tp": 2}, seed=3)

    def test_greedy_window(self):
        self.check("greedy", ["--workload", "flops", "--window", "3"], {"window": 3}, seed=4)

    def test_concat_and_bfd(self):
        self.check("concat", ["--workload", "flops"], {}, seed=5, dp=1, m=3)
        self.check("bfd", ["--workload", "flops"], {}, seed=6)


class SaveRestore(unittest.TestCase):
    def events(self, p, lens, start=0):
        """(position, iteration) for each iteration, pushing lens[start:]."""
        out = []
        for i in range(start, len(lens)):
            p.push(1000 + i, lens[i])
            it = p.next_iteration()
            while it is not None:
                out.append((i, it.index, it.microbatches))
                it = p.next_iteration()
        return out

    def check(self, **kw):
        lens = lengths(11, 300, 20000)
        base = wlb.Packer(8192, 2, 2, **kw)
        states, ref = [base.state()], []
        for i, n in enumerate(lens):  # a state after every push (so at every iteration)
            base.push(1000 + i, n)
            it = base.next_iteration()
            while it is not None:
                ref.append((i, it.index, it.microbatches))
                it = base.next_iteration()
            states.append(base.state())
        self.assertGreater(len(ref), 5)
        checked = 0
        for k, st in enumerate(states):
            if k and not any(pos == k - 1 for pos, _, _ in ref) and k % 37:
                continue  # every state that follows an iteration, and some others
            q = wlb.Packer.from_state(st)
            self.assertEqual(q.state(), st)
            got = self.events(q, lens, k)
            self.assertEqual(got, [e for e in ref if e[0] >= k], "restored after push %d" % k)
            checked += 1
        self.assertGreater(checked, 5)

    def test_wlb(self):
        self.check()

    def test_greedy_window(self):
        self.check(packing="greedy", window=3)

    def test_corrupt(self):
        st = wlb.Packer(1024, 1, 1).state()
        with self.assertRaisesRegex(ValueError, "magic"):
            wlb.Packer.from_state(b"x" + st[1:])
        for cut in range(0, len(st), 7):
            with self.assertRaises(ValueError):
                wlb.Packer.from_state(st[:cut])


class Shard(unittest.TestCase):
    def layouts(self):
        r = random.Random(5)
        for trial in range(200):
            cp = r.choice([1, 2, 3, 4, 8])
            lens = [r.choice([1, 2, 3, 7, 15, 16, 17]) if r.random() < 0.4 else r.randint(1, 3000)
                    for _ in range(r.randint(1, 12))]
            yield cp, lens

    def test_per_doc_covers_once(self):
        for cp, lens in self.layouts():
            s = wlb.shard(lens, cp, "per-doc")
            self.assertEqual(s.mode, "per-doc")
            total = sum(lens)
            seen = sorted(i for rk in s.ranks for i in rk.token_index)
            self.assertEqual(seen, list(range(total)), (cp, lens))
            counts = [len(rk.token_index) for rk in s.ranks]
            self.assertLessEqual(max(counts) - min(counts), 2 * cp)
            self.assertLessEqual(max(counts) - min(counts), 2)  # the round-robin pointer's bound
            starts = [sum(lens[:i]) for i in range(len(lens))]
            for rk in s.ranks:
                # pieces, token_index and cu_seqlens agree, documents ascending
                idx = [starts[d] + x for d, a, b in rk.pieces for x in range(a, b)]
                self.assertEqual(idx, list(rk.token_index))
                self.assertEqual([d for d, _, _ in rk.pieces], sorted(d for d, _, _ in rk.pieces))
                per = [sum(b - a for d, a, b in rk.pieces if d == i) for i in range(len(lens))]
                self.assertEqual(list(rk.cu_seqlens), [sum(per[:i]) for i in range(len(lens) + 1)])
                slot = [2 * -(-n // (2 * cp)) for n in lens]  # TE: padded to 2cp, over cp ranks
                self.assertEqual(list(rk.cu_seqlens_padded), [sum(slot[:i]) for i in range(len(lens) + 1)])
                self.assertTrue(all(p <= q for p, q in zip(per, slot)))

    def test_per_doc_is_te_split_for_multiples_of_2cp(self):
        # TransformerEngine's THD CP split: chunk k of a document padded to a
        # multiple of 2cp is its positions [k*c, (k+1)*c); rank r holds
        # chunks r and 2cp-1-r of every document.  With no remainder to deal,
        # per-doc is exactly that.
        r = random.Random(11)
        for trial in range(100):
            cp = r.choice([1, 2, 4, 8])
            lens = [2 * cp * r.randint(1, 40) for _ in range(r.randint(1, 8))]
            s = wlb.shard(lens, cp, "per-doc")
            starts = [sum(lens[:i]) for i in range(len(lens))]
            for rank, rk in enumerate(s.ranks):
                want = []
                for d, n in enumerate(lens):
                    c = n // (2 * cp)
                    for k in (rank, 2 * cp - 1 - rank):
                        want += range(starts[d] + k * c, starts[d] + (k + 1) * c)
                self.assertEqual(list(rk.token_index), want, (cp, lens, rank))

    def test_per_seq_chunks(self):
        for cp, lens in self.layouts():
            s = wlb.shard(lens, cp, "per-seq")
            total = sum(lens)
            c = -(-total // (2 * cp))
            for r, rk in enumerate(s.ranks):
                want = [x for x in list(range(r * c, (r + 1) * c)) +
                        list(range((2 * cp - 1 - r) * c, (2 * cp - r) * c)) if x < total]
                self.assertEqual(list(rk.token_index), want, (cp, lens, r))
                self.assertEqual(rk.cu_seqlens[-1], len(want))
                self.assertEqual(rk.cu_seqlens_padded[-1], 2 * c)
                self.assertEqual(list(rk.cu_seqlens[:-1]), list(rk.cu_seqlens_padded[:-1]))

    def test_adaptive_is_one_of_them(self):
        for cp, lens in self.layouts():
            s = wlb.shard(lens, cp, "adaptive")
            ref = wlb.shard(lens, cp, s.mode)
            self.assertEqual([rk.pieces for rk in s.ranks], [rk.pieces for rk in ref.ranks])

    def test_hybrid_covers_once(self):
        for cp, lens in self.layouts():
            s = wlb.shard(lens, cp, "hybrid")
            total = sum(lens)
            seen = sorted(i for rk in s.ranks for i in rk.token_index)
            self.assertEqual(seen, list(range(total)), (cp, lens))
            rows = -(-total // (2 * cp)) * 2  # every rank: its two slots, padding included
            starts = [sum(lens[:i]) for i in range(len(lens))]
            if s.mode != "hybrid":  # no hybrid layout better than both static ones
                ref = wlb.shard(lens, cp, s.mode)
                self.assertEqual([rk.pieces for rk in s.ranks], [rk.pieces for rk in ref.ranks])
                continue
            for rk in s.ranks:
                self.assertEqual(rk.cu_seqlens_padded[-1], rows)
                idx = [starts[d] + x for d, a, b in rk.pieces for x in range(a, b)]
                self.assertEqual(idx, list(rk.token_index))
                self.assertEqual([d for d, _, _ in rk.pieces], sorted(d for d, _, _ in rk.pieces))
                per = [sum(b - a for d, a, b in rk.pieces if d == i) for i in range(len(lens))]
                self.assertEqual(list(rk.cu_seqlens), [sum(per[:i]) for i in range(len(lens) + 1)])

    def test_hybrid_cuts_the_long_document(self):
        # one 8192-token document among eight of 256 at cp 2: cutting the long
        # one and keeping the short ones whole beats both static layouts, so
        # each rank holds half of the long one (chunks 0 and 3 of 2048)
        s = wlb.shard([8192] + [256] * 8, 2, "hybrid")
        self.assertEqual(s.mode, "hybrid")
        for rk in s.ranks:
            self.assertEqual(sum(b - a for d, a, b in rk.pieces if d == 0), 4096)
            self.assertEqual(len(rk.token_index), (8192 + 8 * 256) // 2)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "mode must be"):
            wlb.shard([10], 2, "zigzag")
        with self.assertRaisesRegex(ValueError, "at least 1"):
            wlb.shard([10, 0], 2, "per-doc")


class Errors(unittest.TestCase):
    def test_messages(self):
        with self.assertRaisesRegex(ValueError, 'packing must be one of.*"nope"'):
            wlb.Packer(1024, 1, 1, packing="nope")
        with self.assertRaisesRegex(ValueError, "s_max"):
            wlb.Packer(1024, 1, 1, s_max=512)
        with self.assertRaisesRegex(ValueError, "model"):
            wlb.Packer(1024, 1, 1, model="gpt-9")
        p = wlb.Packer(1024, 1, 1)
        with self.assertRaisesRegex(ValueError, "length"):
            p.push(1, 0)
        p.finish()
        with self.assertRaisesRegex(ValueError, "push after finish"):
            p.push(2, 5)


def write_megatron(prefix, docs, code=8, itemsize=2, fmt="H"):
    """A tiny Megatron .bin/.idx (version 1): one sequence per document."""
    ptrs, at = [], 0
    with open(prefix + ".bin", "wb") as f:
        for d in docs:
            ptrs.append(at)
            f.write(struct.pack("<%d%s" % (len(d), fmt), *d))
            at += len(d) * itemsize
    with open(prefix + ".idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", code))
        f.write(struct.pack("<QQ", len(docs), len(docs) + 1))
        f.write(struct.pack("<%di" % len(docs), *[len(d) for d in docs]))
        f.write(struct.pack("<%dq" % len(docs), *ptrs))
        f.write(struct.pack("<%dq" % (len(docs) + 1), *range(len(docs) + 1)))


class Examples(unittest.TestCase):
    def test_megatron_dataset(self):
        sys.path.insert(0, os.path.join(ROOT, "examples"))
        import megatron_wlb_dataset as mds
        r = random.Random(9)
        # token j of document i is (i * 7 + j) % 65000: each one says where it came from
        docs = [[(i * 7 + j) % 65000 for j in range(r.randint(1, 700))] for i in range(120)]
        with tempfile.TemporaryDirectory() as d:
            prefix = os.path.join(d, "corpus")
            write_megatron(prefix, docs)
            ds = mds.WLBMegatronDataset(prefix, context=1024, dp=2, microbatches=2, cp=2)
            n_mb, seen = 0, {}
            for mb in ds:
                n_mb += 1
                toks = list(mb["tokens"])
                self.assertEqual(len(toks), sum(n for _, _, n in mb["pieces"]))
                at = 0
                for doc, off, n in mb["pieces"]:
                    self.assertEqual(toks[at:at + n], docs[doc][off:off + n])
                    seen[doc] = seen.get(doc, 0) + n
                    at += n
                gathered = sorted((int(i), int(t)) for rk in mb["cp_ranks"]
                                  for i, t in zip(rk["token_index"], rk["tokens"]))
                self.assertEqual(gathered, list(enumerate(toks)))
                for rk in mb["cp_ranks"]:
                    self.assertEqual(int(rk["cu_seqlens"][-1]), len(rk["tokens"]))
            self.assertEqual(n_mb % 4, 0)
            self.assertGreater(n_mb, 8)
            # everything but what the outlier queues hold at the end is trained once
            self.assertLessEqual(sum(seen.values()), sum(map(len, docs)))
            for doc, n in seen.items():
                self.assertLessEqual(n, len(docs[doc]))
            with open(prefix + ".idx", "r+b") as f:
                f.write(b"NOTANIDX")
            with self.assertRaisesRegex(ValueError, "MMIDIDX"):
                mds.WLBMegatronDataset(prefix, context=1024, dp=1, microbatches=1)

    def test_c_example(self):
        exe = os.path.join(BUILD, "examples", "pack_stream")
        if not os.path.exists(exe):
            self.skipTest("build/examples/pack_stream not built (make examples)")
        lens = lengths(13, 80, 10000)
        out = subprocess.run([exe, "4096", "1", "2", "2"], input="\n".join(map(str, lens)) + "\n",
                             capture_output=True, text=True, check=True).stdout
        # the C example checkpoints after every iteration; its pieces are the Python packer's
        want = run_packer(wlb.Packer(4096, 1, 2, cp=2), lens)
        got, cur = [], None
        for line in out.splitlines():
            if line.startswith("iteration"):
                cur = []
                got.append(cur)
            elif line.startswith("  mb"):
                parts = line.split(":", 1)[1].split()
                cur.append([tuple(int(x) for x in p.replace("+", ":").split(":")) for p in parts])
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
