#!/usr/bin/env python3
"""Write a wlb lengths file (one document length in tokens a line, '#' lines
comments) from a corpus, for a trace's data.lengths_file.

Sources, one of:
  --jsonl FILE     JSON lines (FILE '-' for stdin), standard library only:
                   --count-field F   a token count per document, or
                   --tokens-field F  a list of token ids (its len() is counted), or
                   --text-field F --tokenizer NAME  text tokenized by transformers
  --parquet FILE   the same fields from a Parquet file (needs pyarrow)
  --hf NAME        a Hugging Face dataset (needs datasets; --config, --split,
                   --streaming), the same fields

Documents of zero tokens are left out (a concatenating dataloader never sees
them) and counted in the header.  A missing Python package is named with the
command that installs it (exit 2); bad input is one line naming the file,
line or row and field (exit 1).  The output is written whole or not at all.

examples:
  tools/lengths-from-hf.py --jsonl docs.jsonl --count-field n_tokens -o lengths.txt
  tools/lengths-from-hf.py --jsonl tokenized.jsonl --tokens-field input_ids -o lengths.txt
  tools/lengths-from-hf.py --parquet train.parquet --tokens-field input_ids -o lengths.txt
  tools/lengths-from-hf.py --hf user/tokenized-corpus --split train --field input_ids -o lengths.txt
  tools/lengths-from-hf.py --hf allenai/c4 --config en --split validation --streaming \\
      --text-field text --tokenizer meta-llama/Llama-2-7b-hf --add-eod --limit 100000 -o c4.txt
"""
import argparse
import importlib
import json
import os
import sys
import tempfile

PROG = "lengths-from-hf.py"
MAX_LEN = 2**32 - 1


class Bad(Exception):
    """Bad input: one line, exit 1."""


class Missing(Exception):
    """A Python package the chosen source needs: exit 2."""


def need(module, why):
    try:
        return importlib.import_module(module)
    except ImportError:
        pkg = module.split(".")[0]
        raise Missing(f"{why} needs the Python package '{pkg}', which is not installed: "
                      f"pip install {pkg}")


def tokenizer_counter(name, add_eod):
    transformers = need("transformers", "--tokenizer")
    tok = transformers.AutoTokenizer.from_pretrained(name)

    def count(text, where):
        if not isinstance(text, str):
            raise Bad(f"{where}: expected a string, got {type(text).__name__}")
        n = len(tok(text, add_special_tokens=False)["input_ids"])
        return n + 1 if add_eod and n else n
    return count


def length_of(rec, a, count_text, where):
    """The token count of one record (a dict)."""
    field = a.count_field or a.tokens_field or a.text_field
    if not isinstance(rec, dict) or field not in rec:
        raise Bad(f"{where}: no field \"{field}\"")
    v = rec[field]
    if a.count_field:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise Bad(f"{where}: {field}: expected a token count (an integer >= 0), got {json.dumps(v)[:40]}")
        n = v
    elif a.tokens_field:
        if isinstance(v, (str, dict)) or not hasattr(v, "__len__"):
            raise Bad(f"{where}: {field}: expected a list of token ids, got {type(v).__name__}")
        n = len(v)
        n = n + 1 if a.add_eod and n else n
    else:
        n = count_text(v, f"{where}: {field}")
    if n > MAX_LEN:
        raise Bad(f"{where}: {field}: {n} tokens, more than a lengths file holds ({MAX_LEN})")
    return n


def jsonl_records(path):
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    name = "<stdin>" if path == "-" else path
    with f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise Bad(f"{name}:{i}: not JSON: {e.msg} at column {e.colno}")
            yield f"{name}:{i}", rec


def parquet_records(path, column):
    pq = need("pyarrow.parquet", "--parquet")
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own types
        raise Bad(f"{path}: not a readable Parquet file: {e}")
    if column not in pf.schema_arrow.names:
        raise Bad(f"{path}: no column \"{column}\" (columns: {', '.join(pf.schema_arrow.names)})")
    row = 0
    for batch in pf.iter_batches(columns=[column]):
        for v in batch.column(0).to_pylist():
            yield f"{path}: row {row}", {column: v}
            row += 1


def hf_records(a, column):
    datasets = need("datasets", "--hf")
    try:
        ds = datasets.load_dataset(a.hf, a.config, split=a.split, streaming=a.streaming)
    except Exception as e:
        raise Bad(f"{a.hf}: cannot load split \"{a.split}\": {e}".replace("\n", " "))
    names = getattr(ds, "column_names", None)
    if names is not None and column not in names:
        raise Bad(f"{a.hf}: no column \"{column}\" (columns: {', '.join(names)})")
    for row, rec in enumerate(ds):
        yield f"{a.hf}[{a.split}]: row {row}", rec


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--jsonl", metavar="FILE", help="JSON lines, one document a line ('-': stdin)")
    src.add_argument("--parquet", metavar="FILE", help="a Parquet file (pyarrow)")
    src.add_argument("--hf", metavar="NAME", help="a Hugging Face dataset (datasets)")
    fld = ap.add_mutually_exclusive_group(required=True)
    fld.add_argument("--count-field", metavar="F", help="an integer token count per document")
    fld.add_argument("--tokens-field", "--field", metavar="F", help="a list of token ids per document")
    fld.add_argument("--text-field", metavar="F", help="text, tokenized with --tokenizer")
    ap.add_argument("--tokenizer", metavar="NAME", help="a transformers tokenizer for --text-field")
    ap.add_argument("--add-eod", action="store_true",
                    help="count one end-of-document token per non-empty document (Megatron's --append-eod)")
    ap.add_argument("--config", help="--hf: the dataset configuration")
    ap.add_argument("--split", default="train", help="--hf: the split (default train)")
    ap.add_argument("--streaming", action="store_true", help="--hf: stream instead of downloading whole")
    ap.add_argument("--limit", type=int, metavar="N", help="stop after N documents")
    ap.add_argument("-o", "--output", required=True, metavar="FILE", help="the lengths file ('-': stdout)")
    a = ap.parse_args()
    if a.text_field and not a.tokenizer:
        ap.error("--text-field needs --tokenizer NAME")
    if a.tokenizer and not a.text_field:
        ap.error("--tokenizer goes with --text-field")
    if a.limit is not None and a.limit < 1:
        ap.error("--limit must be at least 1")

    source = a.jsonl or a.parquet or a.hf
    try:
        count_text = tokenizer_counter(a.tokenizer, a.add_eod) if a.tokenizer else None
        column = a.count_field or a.tokens_field or a.text_field
        if a.jsonl:
            records, source = jsonl_records(a.jsonl), a.jsonl
        elif a.parquet:
            records, source = parquet_records(a.parquet, column), a.parquet
        else:
            records, source = hf_records(a, column), f"{a.hf} split {a.split}"
        lens, empty = [], 0
        for where, rec in records:
            n = length_of(rec, a, count_text, where)
            if n:
                lens.append(n)
            else:
                empty += 1
            if a.limit and len(lens) + empty >= a.limit:
                break
        if not lens:
            raise Bad(f"{source}: no document of one token or more")
    except Missing as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except Bad as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: {e.filename or source}: {e.strerror or e}", file=sys.stderr)
        return 1

    how = f"field {column}" + (f", tokenizer {a.tokenizer}" if a.tokenizer else "") + \
        (", +1 end-of-document token" if a.add_eod else "")
    text = (f"# document lengths in tokens from {source} ({how})\n"
            f"# {len(lens)} documents, {sum(lens)} tokens; {empty} empty documents left out\n" +
            "".join(f"{n}\n" for n in lens))
    if a.output == "-":
        sys.stdout.write(text)
        return 0
    d = os.path.dirname(os.path.abspath(a.output))
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".lengths-")
    except OSError as e:
        print(f"{PROG}: {a.output}: cannot write: {e.strerror}", file=sys.stderr)
        return 1
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, a.output)
    except OSError as e:
        os.unlink(tmp)
        print(f"{PROG}: {a.output}: cannot write: {e.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
