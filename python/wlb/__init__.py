"""wlb: the WLB-LLM packer and the context-parallel sharders for data loaders.

ctypes bindings over libwlb.so (standard library only).  The library is
found through $WLB_LIB, beside this package, in the repository's build/
(a source checkout), or on the system's library path.

    p = wlb.Packer(context=8192, dp=2, microbatches=4)
    for doc_id, length in documents:
        p.push(doc_id, length)
        it = p.next_iteration()
        if it is not None:
            train(it.microbatches)   # dp*m lists of (doc_id, offset, length)

    layout = wlb.shard([300, 5000, 120], cp=2, mode="per-doc")
    layout.ranks[0].token_index, layout.ranks[0].cu_seqlens_padded
"""
import ctypes
import ctypes.util
import os

__all__ = ["Packer", "Iteration", "shard", "Layout", "Rank", "WlbError", "library_path"]
__version__ = "0.1"


class WlbError(RuntimeError):
    """A failure the library reported (its message), other than bad arguments."""


def _candidates():
    env = os.environ.get("WLB_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libwlb.so", "libwlb.so.0"):
        yield os.path.join(here, name)
    yield os.path.join(here, "..", "..", "build", "libwlb.so")
    found = ctypes.util.find_library("wlb")
    if found:
        yield found
    yield "libwlb.so.0"
    for d in ("/usr/local/lib", "/usr/lib"):
        yield os.path.join(d, "libwlb.so.0")


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("wlb: cannot load libwlb.so; set WLB_LIB to its path, or build it with "
                      "`make` / install it with `make install`.  Tried: " + "; ".join(tried))


_lib, library_path = _load()

_u32, _u64, _sz, _int, _cp = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p


class _Config(ctypes.Structure):
    _fields_ = [("packing", _cp), ("context", _u32), ("dp", _int), ("microbatches", _int),
                ("s_max", _u32), ("n_thresholds", _int), ("thresholds", _u32 * 8),
                ("window", _u32), ("doc_order", _cp), ("workload", _cp), ("model", _cp),
                ("tp", _int), ("cp", _int), ("gpu", _cp), ("costdb", _cp)]


class _Span(ctypes.Structure):
    _fields_ = [("doc_id", _u64), ("offset", _u64), ("length", _u64)]


class _Iteration(ctypes.Structure):
    _fields_ = [("index", _u32), ("n_microbatches", _u32), ("mb_start", ctypes.POINTER(_sz)),
                ("spans", ctypes.POINTER(_Span)), ("n_spans", _sz)]


class _CpPiece(ctypes.Structure):
    _fields_ = [("doc", _u32), ("start", _u32), ("end", _u32)]


_vp = ctypes.c_void_p
_errbuf = lambda: ctypes.create_string_buffer(512)


def _sig(name, res, *args):
    f = getattr(_lib, name)
    f.restype, f.argtypes = res, list(args)
    return f


_version = _sig("wlb_version", _cp)
_free = _sig("wlb_free", None, _vp)
_config_init = _sig("wlb_loader_config_init", None, ctypes.POINTER(_Config))
_create = _sig("wlb_loader_create", _int, ctypes.POINTER(_vp), ctypes.POINTER(_Config), _cp, _sz)
_destroy = _sig("wlb_loader_destroy", None, _vp)
_error = _sig("wlb_loader_error", _cp, _vp)
_push = _sig("wlb_loader_push", _int, _vp, _u64, _u64)
_finish = _sig("wlb_loader_finish", _int, _vp)
_next = _sig("wlb_loader_next", _int, _vp, ctypes.POINTER(_Iteration))
_buffered = _sig("wlb_loader_buffered_tokens", _u64, _vp)
_save = _sig("wlb_loader_save", _int, _vp, ctypes.POINTER(_vp), ctypes.POINTER(_sz))
_restore = _sig("wlb_loader_restore", _int, ctypes.POINTER(_vp), ctypes.c_char_p, _sz, _cp, _sz)
_shard = _sig("wlb_cp_shard", _int, ctypes.POINTER(_vp), ctypes.POINTER(_u32), _sz, _int, _int, _cp, _sz)
_layout_destroy = _sig("wlb_cp_layout_destroy", None, _vp)
_layout_used = _sig("wlb_cp_layout_used", _int, _vp)
_rank_pieces = _sig("wlb_cp_rank_pieces", _sz, _vp, _int, ctypes.POINTER(ctypes.POINTER(_CpPiece)))
_rank_index = _sig("wlb_cp_rank_token_index", _sz, _vp, _int, ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)))
_rank_cu = _sig("wlb_cp_rank_cu_seqlens", _sz, _vp, _int, ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)),
                ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)))

_EINVAL, _ERANGE = -1, -4


def _raise(rc, msg):
    msg = msg.decode() if isinstance(msg, bytes) else msg
    if rc in (_EINVAL, _ERANGE):
        raise ValueError(msg)
    if rc == -3:
        raise MemoryError(msg)
    raise WlbError(msg)


def version():
    """The library's version string."""
    return _version().decode()


def _enc(s):
    return None if s is None else str(s).encode()


class Iteration:
    """One iteration: .microbatches is a list of dp*m lists of (doc_id, offset,
    length) tuples, replica r owning microbatches[r*m:(r+1)*m]."""

    __slots__ = ("index", "microbatches")

    def __init__(self, index, microbatches):
        self.index = index
        self.microbatches = microbatches

    def __repr__(self):
        return "Iteration(index=%d, microbatches=%d, pieces=%d)" % (
            self.index, len(self.microbatches), sum(len(m) for m in self.microbatches))


class Packer:
    """The streaming packer.  push() documents in dataloader order;
    next_iteration() returns None until one global batch (dp*m*context tokens;
    greedy: a window of them) is buffered, then one Iteration."""

    def __init__(self, context, dp, microbatches, packing="wlb", s_max=None, thresholds=None,
                 window=1, workload="flops", model="llama2-7b", tp=1, cp=1, gpu="h100-sxm"):
        c = _Config()
        _config_init(ctypes.byref(c))
        self._keep = [_enc(packing), _enc(workload), _enc(model), _enc(gpu)]
        c.packing, c.workload, c.model, c.gpu = self._keep
        for name, v in (("context", context), ("dp", dp), ("microbatches", microbatches),
                        ("window", window), ("tp", tp), ("cp", cp)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError("%s must be a positive integer, got %r" % (name, v))
        c.context, c.dp, c.microbatches = context, dp, microbatches
        c.window, c.tp, c.cp = window, tp, cp
        if s_max is not None:
            if not isinstance(s_max, int) or s_max < 1:
                raise ValueError("s_max must be a positive integer or None, got %r" % (s_max,))
            c.s_max = s_max
        if thresholds is not None:
            t = list(thresholds)
            if len(t) > 8 or not all(isinstance(x, int) and x >= 1 for x in t):
                raise ValueError("thresholds must be at most 8 positive integers, got %r" % (thresholds,))
            c.n_thresholds = len(t)
            for i, x in enumerate(t):
                c.thresholds[i] = x
        self._h = None
        h, err = _vp(), _errbuf()
        rc = _create(ctypes.byref(h), ctypes.byref(c), err, len(err))
        if rc:
            _raise(rc, err.value)
        self._h = h

    @classmethod
    def from_state(cls, state):
        """A packer that continues exactly as the one whose state() this is."""
        self = cls.__new__(cls)
        self._h = None
        b = bytes(state)
        h, err = _vp(), _errbuf()
        rc = _restore(ctypes.byref(h), b, len(b), err, len(err))
        if rc:
            _raise(rc, err.value)
        self._h = h
        return self

    def __del__(self):
        if getattr(self, "_h", None):
            _destroy(self._h)
            self._h = None

    def _check(self, rc):
        if rc < 0:
            _raise(rc, _error(self._h))
        return rc

    def push(self, doc_id, length):
        """Appends a document of `length` tokens under the caller's id (0 .. 2**64-1)."""
        if not isinstance(doc_id, int) or not 0 <= doc_id < 1 << 64:
            raise ValueError("doc_id must be an integer in [0, 2**64), got %r" % (doc_id,))
        if not isinstance(length, int) or not 1 <= length < 1 << 32:
            raise ValueError("document %d: length must be 1 to 2**32-1 tokens, got %r" % (doc_id, length))
        self._check(_push(self._h, doc_id, length))

    def finish(self):
        """End of the data: next_iteration() then packs what is left (a last
        partial batch) and returns None once nothing is."""
        self._check(_finish(self._h))

    def buffered_tokens(self):
        """Tokens pushed and not yet read into a global batch."""
        return _buffered(self._h)

    def next_iteration(self):
        it = _Iteration()
        if self._check(_next(self._h, ctypes.byref(it))) == 0:
            return None
        mbs = []
        for b in range(it.n_microbatches):
            lo, hi = it.mb_start[b], it.mb_start[b + 1]
            mbs.append([(s.doc_id, s.offset, s.length) for s in it.spans[lo:hi]])
        return Iteration(it.index, mbs)

    def state(self):
        """The whole state as bytes (a versioned blob)."""
        p, n = _vp(), _sz()
        self._check(_save(self._h, ctypes.byref(p), ctypes.byref(n)))
        try:
            return ctypes.string_at(p, n.value)
        finally:
            _free(p)


class Rank:
    """One CP rank: .pieces [(doc_index, start, end)], .token_index (positions
    in the packed sequence to gather), .cu_seqlens, .cu_seqlens_padded."""

    __slots__ = ("pieces", "token_index", "cu_seqlens", "cu_seqlens_padded")

    def __init__(self, pieces, token_index, cu_seqlens, cu_seqlens_padded):
        self.pieces, self.token_index = pieces, token_index
        self.cu_seqlens, self.cu_seqlens_padded = cu_seqlens, cu_seqlens_padded

    def __repr__(self):
        return "Rank(tokens=%d, pieces=%d)" % (len(self.token_index), len(self.pieces))


class Layout:
    """A micro-batch sharded over cp ranks: .ranks, .mode (what was used)."""

    __slots__ = ("ranks", "mode", "cp")

    def __init__(self, ranks, mode, cp):
        self.ranks, self.mode, self.cp = ranks, mode, cp


_MODES = {"per-seq": 0, "per-doc": 1, "adaptive": 2, "hybrid": 3}


def shard(lengths, cp, mode="per-seq"):
    """Shards one micro-batch of documents (their lengths, in packing order)
    over cp ranks.  mode: per-seq | per-doc | adaptive | hybrid."""
    if mode not in _MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(_MODES), mode))
    if not isinstance(cp, int) or isinstance(cp, bool) or cp < 1:
        raise ValueError("cp must be a positive integer, got %r" % (cp,))
    lens = list(lengths)
    for x in lens:
        if not isinstance(x, int) or not 1 <= x < 1 << 32:
            raise ValueError("every length must be an integer of at least 1, got %r" % (x,))
    arr = (_u32 * max(len(lens), 1))(*lens)
    h, err = _vp(), _errbuf()
    rc = _shard(ctypes.byref(h), arr, len(lens), cp, _MODES[mode], err, len(err))
    if rc:
        _raise(rc, err.value)
    try:
        ranks = []
        for r in range(cp):
            pp = ctypes.POINTER(_CpPiece)()
            n = _rank_pieces(h, r, ctypes.byref(pp))
            pieces = [(pp[i].doc, pp[i].start, pp[i].end) for i in range(n)]
            ip = ctypes.POINTER(ctypes.c_int64)()
            n = _rank_index(h, r, ctypes.byref(ip))
            index = ip[:n] if n else []
            cu, cup = ctypes.POINTER(ctypes.c_int32)(), ctypes.POINTER(ctypes.c_int32)()
            n = _rank_cu(h, r, ctypes.byref(cu), ctypes.byref(cup))
            ranks.append(Rank(pieces, index, cu[:n], cup[:n]))
        used = {1: "per-doc", 3: "hybrid"}.get(_layout_used(h), "per-seq")
        return Layout(ranks, used, cp)
    finally:
        _layout_destroy(h)
