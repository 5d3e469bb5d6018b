#!/usr/bin/env python3
"""Time the attention kernel your framework really uses, for wlb's cost DB.

Runs varlen causal attention over packed pieces (q_len queries at the end of
kv_len keys, equal pieces packed to about 32K keys per call, as wlb-profile
does) with FlashAttention's flash_attn_varlen_func when it is installed, or
PyTorch's scaled_dot_product_attention with a lower-right causal mask, and
writes a CSV that `wlb-profile --import-attn FILE -o DB` stores as imported
rows next to the measured and analytic ones.

    python3 tools/profile_attn.py --heads 8 --kv-heads 8 --head-dim 128 -o attn.csv
    wlb-profile --import-attn attn.csv -o h100.db
"""
import argparse
import statistics
import sys

COLUMNS = "direction,heads,kv_heads,head_dim,q_len,kv_len,pieces,median_us,p10_us,p90_us,kernel"


def grid(quick):
    qs = [16, 128, 256, 512, 2048, 8192] if quick else \
        [16, 32, 64, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
    top = 16384 if quick else 131072
    for q in qs:
        kv = q
        while kv <= top:
            yield q, kv, max(1, 32768 // kv)
            kv *= 2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", type=int, required=True, help="query heads per rank (after TP)")
    ap.add_argument("--kv-heads", type=int, required=True, help="KV heads per rank")
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("profile_attn.py: PyTorch is needed (pip install torch)")
    if not torch.cuda.is_available():
        sys.exit("profile_attn.py: no CUDA device")
    try:
        from flash_attn import flash_attn_varlen_func
        kernel = "flash-attn"
    except ImportError:
        flash_attn_varlen_func = None
        from torch.nn.attention.bias import causal_lower_right
        kernel = "torch-sdpa"
    dev, dt = "cuda", torch.bfloat16
    h, hk, d = a.heads, a.kv_heads, a.head_dim
    rows = []
    for q_len, kv_len, pieces in grid(a.quick):
        q = torch.randn(pieces * q_len, h, d, device=dev, dtype=dt, requires_grad=True)
        k = torch.randn(pieces * kv_len, hk, d, device=dev, dtype=dt, requires_grad=True)
        v = torch.randn(pieces * kv_len, hk, d, device=dev, dtype=dt, requires_grad=True)
        if flash_attn_varlen_func:
            cq = torch.arange(0, pieces + 1, device=dev, dtype=torch.int32) * q_len
            ck = torch.arange(0, pieces + 1, device=dev, dtype=torch.int32) * kv_len

            def fwd():
                # flash-attn >= 2.1 aligns causal masks bottom-right, as wlb's pieces are
                return flash_attn_varlen_func(q, k, v, cq, ck, q_len, kv_len, causal=True)
        else:
            qb = q.view(pieces, q_len, h, d).transpose(1, 2)
            kb = k.view(pieces, kv_len, hk, d).transpose(1, 2).repeat_interleave(h // hk, 1)
            vb = v.view(pieces, kv_len, hk, d).transpose(1, 2).repeat_interleave(h // hk, 1)
            mask = causal_lower_right(q_len, kv_len)

            def fwd():
                return torch.nn.functional.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask)
        for direction in ("fwd", "bwd"):
            times = []
            for i in range(a.reps + 3):
                if direction == "bwd":  # the forward that builds the graph is not timed
                    o = fwd()
                    g = torch.ones_like(o)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                if direction == "fwd":
                    fwd()
                else:
                    torch.autograd.grad(o, (q, k, v), g)
                end.record()
                torch.cuda.synchronize()
                if i >= 3:  # warm-up
                    times.append(start.elapsed_time(end) * 1e3)
            times.sort()
            p = lambda f: times[min(len(times) - 1, int(f * len(times)))]
            rows.append(f"{direction},{h},{hk},{d},{q_len},{kv_len},{pieces},"
                        f"{statistics.median(times):.3f},{p(0.1):.3f},{p(0.9):.3f},{kernel}")
        print(f"  q_len {q_len:6d} kv_len {kv_len:6d} x{pieces}: {rows[-2].split(',')[7]} / "
              f"{rows[-1].split(',')[7]} us", file=sys.stderr)
    with open(a.output + ".tmp", "w") as f:
        f.write(COLUMNS + "\n" + "\n".join(rows) + "\n")
    import os
    os.replace(a.output + ".tmp", a.output)
    print(f"{a.output}: {len(rows)} rows ({kernel})")


if __name__ == "__main__":
    main()
