"""The `nsparse` console script: what is not a DVC stage.

Use a trained model (evaluate, encode, explain, search), run the OpenSearch node, and
remove a deployment. This module only parses arguments and prints; the work is done by
the library (`nsparse.tools.evaluate`, `nsparse.tools.inspect`, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nsparse.opensearch import cli as opensearch_cli

EXAMPLES = {
    "evaluate": """\
        examples:
          nsparse evaluate models/v2 data/benchmarks/korquad --baseline bm25
          nsparse evaluate models/v2 path/to/my-beir-folder --as-shipped   # statistics not fitted to it
          nsparse evaluate opensearch-project/opensearch-neural-sparse-encoding-multilingual-v1 \\
              path/to/beir/scifact --split test --output scifact.json""",
    "encode": """\
        example:
          nsparse encode models/v2 "서울은 대한민국의 수도이다." "한국 수도" --query

        prints, per side, the words of the text heaviest first, a word the vocabulary splits
        with its pieces and their weights (particles weigh 0), then the terms the model added
        that are in no word of the text (English translations of a Korean text):
          document: 6 terms
            words     (3):
              대한민국의  1.082 = 대한 ##민국 ##의 (0.541 + 0.541 + 0)
              서울은      0.541 = 서울 ##은 (0.541 + 0)
              수도이다    0.541 = 수도 ##이 ##다 (0.541 + 0 + 0)
            expansion (2): seoul 0.485, capital 0.452""",
    "explain": """\
        example:
          nsparse explain models/v2 --query "대한민국의 수도" --doc "서울은 대한민국의 수도이다."

        after the words and expansion terms of both sides, the score by query word (its part, its
        share, and for a word of several pieces the pieces it matched by), then by term:
          score 1.0391 from 3 matched terms
          by query word (a word matches where its pieces do):
            수도        0.5306   51.1%
            대한민국의  0.5085   48.9% = 대한 ##민국 (0.2543 + 0.2543)""",
    "search": """\
        examples:
          nsparse search "한국의 수도는 어디인가" --variant v2 -k 5
          nsparse search "파이썬 install 방법" --hybrid
          nsparse search "query" --index my-index --model-id AbCdEf123""",
    "cleanup": """\
        example:
          nsparse cleanup v1""",
    "bench": """\
        examples:
          NSPARSE_OPENSEARCH_PORT=9250 nsparse node up
          NSPARSE_OPENSEARCH_PORT=9250 nsparse bench scale --sizes 10000 100000""",
    "scale": """\
        examples:
          nsparse bench scale --sizes 10000 100000 --clients 4 --queries 200
          nsparse bench scale --neural-breaker-limit 50%   # 10k, 100k and 1M documents: 43 min on 2 cores""",
}


# --- printing -------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def _width(text: str) -> int:
    """Terminal columns of `text`: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, first column left-aligned and the others right-aligned, for the terminal."""
    cells = [list(header)] + [[_fmt(cell) for cell in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        padded = [
            cell + " " * (w - _width(cell)) if i == 0 else " " * (w - _width(cell)) + cell
            for i, (cell, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _terms_line(terms: Sequence[Any], limit: int) -> str:
    """`token 1.234` pairs, heaviest first, at most `limit` of them."""
    shown = ", ".join(f"{term.token} {term.weight:.3f}" for term in terms[:limit])
    return (shown or "–") + (f"  … {len(terms) - limit} more" if len(terms) > limit else "")


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _piece_weight(weight: float) -> str:
    return f"{weight:.3f}" if weight else "0"


def _word_line(word: Any, width: int) -> str:
    """`대한민국의  2.710 = 대한 ##민国 ##의 (2.310 + 0.400 + 0)`: a word of the text, and its pieces when several."""
    line = f"{_pad(word.text, width)}  {word.weight:.3f}"
    if len(word.pieces) > 1:
        line += f" = {' '.join(word.pieces)} ({' + '.join(map(_piece_weight, word.weights))})"
    return line


def _print_terms(label: str, terms: Sequence[Any], words: Sequence[Any], limit: int) -> None:
    """A side's weights: the words of the text (heaviest first, each with its pieces), then the expansion terms
    the model added, which are in no word of the text."""
    expansion = [term for term in terms if not term.present]
    shown = sorted(words, key=lambda word: -word.weight)[:limit]
    width = max((_width(word.text) for word in shown), default=0)
    print(f"  {label}: {len(terms)} terms")
    print(f"    words     ({len(words)}):{'' if words else ' –'}")
    for word in shown:
        print(f"      {_word_line(word, width)}")
    if len(words) > limit:
        print(f"      … {len(words) - limit} more")
    print(f"    expansion ({len(expansion)}): {_terms_line(expansion, limit)}")


def _word_json(word: Any) -> dict[str, Any]:
    pieces = [{"token": piece, "weight": weight} for piece, weight in zip(word.pieces, word.weights)]
    return {"word": word.text, "weight": word.weight, "pieces": pieces}


def _words_json(words: Sequence[Any]) -> list[dict[str, Any]]:
    """Words of a text as JSON, heaviest first (as the term lists are)."""
    return [_word_json(word) for word in sorted(words, key=lambda word: -word.weight)]


def _snippet(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# --- commands --------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    """Score a saved model on a BEIR folder, exactly and in process (nDCG@10, MRR@10, Recall@100, cost)."""
    from nsparse.io import write_json
    from nsparse.tools.evaluate import baseline_bm25, evaluate_model
    from nsparse.tools.inputs import InputError, load_beir, load_model

    if not args.baseline and (args.bm25_k1 is not None or args.bm25_b is not None):
        raise InputError("--bm25-k1 and --bm25-b set the k1/b of --baseline bm25, which was not asked for")
    bm25, bm25_source = baseline_bm25(args.bm25_k1, args.bm25_b) if args.baseline else (None, "")
    benchmark = load_beir(args.beir_dir, args.split)  # first: a bad folder fails before the model loads
    encoder = load_model(args.model)
    result = evaluate_model(
        encoder,
        benchmark,
        model=args.model,
        benchmark_name=str(args.beir_dir),
        split=args.split,
        max_queries=args.max_queries,
        bm25=bm25,
        batch_size=args.batch_size,
        index_precision=not args.full_precision,
        fit_statistics=not args.as_shipped,
        progress=not args.quiet,
    )
    metrics = ["ndcg@10", "mrr@10", "recall@100", "doc_nnz", "query_nnz", "flops"]
    rows = [[system, *(figures.get(m, "–") for m in metrics)] for system, figures in result.systems.items()]
    print(f"{result.benchmark} ({result.split}): {result.documents:,} documents, {result.queries:,} queries")
    print(f"statistics: {describe_statistics(result.statistics)}")
    if bm25 is not None:
        print(f"bm25_kiwi: k1 {bm25.k1}, b {bm25.b} ({bm25_source})")
    print(table(["system", *metrics], rows))
    print("timings: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings_s.items()))
    if args.output:
        write_json(args.output, result.to_json())
        print(f"wrote {args.output}")
    return 0


def describe_statistics(statistics: dict[str, Any]) -> str:
    """One line saying which corpus the model's BM25 statistics (IDF, mean length) come from."""
    fitted = statistics.get("fitted_to")
    if statistics["mode"] == "fitted" and fitted:
        return (
            f"fitted to this corpus ({fitted['documents']:,} documents, mean length "
            f"{fitted['avg_doc_length']:.1f} tokens), as deploy fits them to the index"
        )
    shipped = statistics.get("fitted_to")
    source = f"{shipped['documents']:,} documents" if shipped else "the training corpora"
    return f"as shipped (fitted to {source}); without --as-shipped they are fitted to this corpus"


def _encode(args: argparse.Namespace) -> int:
    """Print each text's document-side weights (and with --query, the query-side ones), heaviest first, by word."""
    from nsparse.model.words import text_words
    from nsparse.tools.inputs import load_model
    from nsparse.tools.inspect import terms

    encoder = load_model(args.model)
    output = []
    for text in args.texts:
        sides = {"document": terms(encoder, text, "document")}
        if args.query:
            sides["query"] = terms(encoder, text, "query")
        words = {
            side: text_words(encoder.tokenizer, text, {t.token: t.weight for t in found})
            for side, found in sides.items()
        }
        output.append(
            {
                "text": text,
                **{side: [vars(t) for t in found] for side, found in sides.items()},
                "words": {side: _words_json(found) for side, found in words.items()},
            }
        )
        if not args.json:
            print(text)
            for side, found in sides.items():
                _print_terms(side, found, words[side], args.top)
    if args.json:
        print(json.dumps(output, ensure_ascii=False, indent=1))
    return 0


def _word_matches(query_words: Sequence[Any], matches: Sequence[Any]) -> list[dict[str, Any]]:
    """The score's matched terms grouped by the query's words (`nsparse.model.words.match_words`), with a row of
    its own for each matched expansion term of the query; largest contribution first, adding up to the score."""
    from nsparse.model.words import match_words

    by_word, rest = match_words(query_words, {m.token: m.contribution for m in matches})
    rows = [
        {
            "word": found.word.text,
            "pieces": list(found.word.pieces),
            "matched": list(found.matched),
            "shared": dict(found.shared),
            "contribution": found.contribution,
            "in_query": True,
        }
        for found in by_word
    ]
    rows += [
        {"word": token, "pieces": [token], "matched": [token], "shared": {}, "contribution": value, "in_query": False}
        for token, value in rest.items()
    ]
    return sorted(rows, key=lambda row: -row["contribution"])


def _word_match_line(row: dict[str, Any], contributions: dict[str, float], score: float, width: int) -> str:
    """`대한민국의  0.4947  48.9% = 대한 ##민국 (0.2474 + 0.2474)`: a query word's part of the score and share of it,
    and for a word of several pieces the pieces it matched by."""
    line = f"{_pad(row['word'], width)}  {row['contribution']:.4f}  {row['contribution'] / score:6.1%}"
    if not row["in_query"]:
        return line + "  (an expansion term of the query)"
    shared = [f"{piece} (counted in {word})" for piece, word in row["shared"].items()]
    if not row["matched"] and not shared:
        return line + "  no piece in the document"
    if len(row["pieces"]) > 1:
        line += f" = {' '.join(row['matched'] + shared)}"
    if len(row["matched"]) > 1:
        line += f" ({' + '.join(f'{contributions[piece]:.4f}' for piece in row['matched'])})"
    return line


def _explain(args: argparse.Namespace) -> int:
    """Break the query-document score down by the query's words and by matched terms; mark expansion terms."""
    from nsparse.model.words import text_words
    from nsparse.tools.inputs import load_model
    from nsparse.tools.inspect import explain

    encoder = load_model(args.model)
    explanation = explain(encoder, args.query, args.doc)
    query_words = text_words(encoder.tokenizer, args.query, {t.token: t.weight for t in explanation.query_terms})
    doc_words = text_words(encoder.tokenizer, args.doc, {t.token: t.weight for t in explanation.doc_terms})
    word_rows = _word_matches(query_words, explanation.matches)
    if args.json:
        print(
            json.dumps(
                {
                    "score": explanation.score,
                    "query_terms": [vars(t) for t in explanation.query_terms],
                    "doc_terms": [vars(t) for t in explanation.doc_terms],
                    "matches": [{**vars(m), "contribution": m.contribution} for m in explanation.matches],
                    "words": {
                        "query": _words_json(query_words),
                        "document": _words_json(doc_words),
                        "matches": word_rows,
                    },
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    _print_terms("query", explanation.query_terms, query_words, args.top)
    _print_terms("document", explanation.doc_terms, doc_words, args.top)
    print(f"score {explanation.score:.4f} from {len(explanation.matches)} matched terms")
    if explanation.matches:

        def kind(present: bool | None) -> str:
            return "present" if present else "expansion"

        print("by query word (a word matches where its pieces do):")
        contributions = {m.token: m.contribution for m in explanation.matches}
        width = max(_width(row["word"]) for row in word_rows)
        for row in word_rows:
            print(f"  {_word_match_line(row, contributions, explanation.score, width)}")
        print("by term:")
        rows = [
            [
                m.token,
                m.query_weight,
                m.doc_weight,
                m.contribution,
                m.contribution / explanation.score,
                kind(m.in_query),
                kind(m.in_doc),
            ]
            for m in explanation.matches
        ]
        print(table(["term", "query w", "doc w", "q×d", "share", "in query", "in doc"], rows))
    return 0


def _search(args: argparse.Namespace) -> int:
    """Query a deployed index and print the hits with their scores and matched terms."""
    from nsparse.opensearch.client import connect
    from nsparse.opensearch.search import hybrid_pipeline_name, hybrid_query_group
    from nsparse.tools.inputs import InputError
    from nsparse.tools.inspect import Target, deployed_target, ensure_hybrid_pipeline, search_index

    if (args.index is None) != (args.model_id is None):
        raise InputError("--index and --model-id go together (or neither: the variant's deployment.json names them)")
    target = (
        Target(args.index, args.model_id)
        if args.index
        else deployed_target(Path(args.deploy_dir), args.variant, args.benchmark)
    )
    client = connect()
    pipeline = None
    if args.hybrid:
        pipeline = hybrid_pipeline_name(args.hybrid_pipeline, hybrid_query_group(args.query))
        if ensure_hybrid_pipeline(client, pipeline):
            print(
                f"created the hybrid search pipeline {pipeline} (min-max normalisation, equal weights)", file=sys.stderr
            )
    hits = search_index(client, target, args.query, args.k, pipeline)
    if args.json:
        print(
            json.dumps(
                [
                    {**vars(hit), "matches": [{**vars(m), "contribution": m.contribution} for m in hit.matches]}
                    for hit in hits
                ],
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    print(
        f"{target.index}: {len(hits)} hits for {args.query!r}{' (hybrid: BM25 + neural sparse)' if args.hybrid else ''}"
    )
    for rank, hit in enumerate(hits, start=1):
        title = f"[{hit.title}] " if hit.title else ""
        print(f"{rank:>3}. {hit.score:.4f}  {hit.doc_id}  {_snippet(title + hit.text)}")
        if hit.matches:
            shown = ", ".join(f"{m.token} {m.query_weight:.2f}×{m.doc_weight:.2f}" for m in hit.matches[: args.top])
            print(f"     matched: {shown}")
        else:
            print("     matched: no query term in the stored vector (BM25 part only)")
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Benchmarks against a live cluster beyond the pipeline's: `scale` (10k to 1M documents, OpenSearch >= 3.3)."""
    from nsparse.opensearch.client import connect
    from nsparse.tools.scale.run import run_scale
    from nsparse.tools.scale.settings import ScaleParams

    defaults = ScaleParams(model=args.model)
    given = {
        name: getattr(args, name)
        for name in (
            "model",
            "benchmarks_dir",
            "queries",
            "clients",
            "seed",
            "n_postings_share",
            "neural_breaker_limit",
            "keep_indices",
        )
        if getattr(args, name) is not None
    }
    seismic = {
        name: getattr(args, name)
        for name in ("n_postings", "cluster_ratio", "summary_prune_ratio", "approximate_threshold")
        if getattr(args, name) is not None
    }
    seismic_query = {name: getattr(args, name) for name in ("top_n", "heap_factor") if getattr(args, name) is not None}
    params = replace(
        defaults,
        **given,
        sizes=tuple(args.sizes or defaults.sizes),
        systems=tuple(args.systems or defaults.systems),
        seismic=replace(defaults.seismic, **seismic),
        seismic_query=replace(defaults.seismic_query, **seismic_query),
    )
    report = run_scale(connect(timeout_s=600), params, args.output, args.plot)
    for size, entry in report["sizes"].items():
        label = f"{int(size):,} documents ({entry['synthetic_documents']:,} synthetic)"
        for system, figures in entry["systems"].items():
            recall = figures.get(f"recall@{defaults.k}_vs_rank_features")
            print(
                f"{label:<36} {system:<17} {figures['ingest_docs_per_s']:>8.0f} doc/s "
                f"{figures['index_size_bytes'] / 2**20:>8.1f} MiB  p50 {figures['latency_p50_ms']:>7.1f} ms  "
                f"p99 {figures['latency_p99_ms']:>7.1f} ms"
                + (f"  recall@10 {recall:.3f}" if recall is not None else "")
            )
    print(f"wrote {args.output} and {args.plot}")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    """Delete what `deploy@<variant>` created on the cluster (indices, ingest pipeline, models)."""
    # Imported here: the pipeline pulls in torch, which `nsparse node ...` should not wait for.
    from nsparse.opensearch.client import connect
    from nsparse.pipeline.deploy import Deployment, cleanup

    record = Path(args.deploy_dir) / args.variant / "deployment.json"
    if not record.exists():
        print(f"nsparse cleanup: {record} not found: nothing was deployed for {args.variant!r}", file=sys.stderr)
        return 1
    cleanup(connect(), Deployment.load(record))
    print(f"removed the indices, pipeline and models of {args.variant}")
    return 0


# --- the parser -----------------------------------------------------------------------
def _add(
    commands: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=func.__doc__,
        description=func.__doc__,
        epilog=textwrap.dedent(EXAMPLES[name]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share in (0, 1], got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nsparse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    model_help = "a saved model folder (models/v2) or a Hugging Face hub id"

    evaluate = _add(commands, "evaluate", _evaluate)
    evaluate.add_argument("model", help=model_help)
    evaluate.add_argument("beir_dir", type=Path, help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    evaluate.add_argument("--split", default="test", help="the qrels split to score (default: test)")
    evaluate.add_argument(
        "--baseline",
        action="append",
        choices=["bm25"],
        help="also score in-process BM25 (kiwi morphemes, bm25s) in the same table, with the k1/b of the project's "
        "params.yaml `bm25` (or --bm25-k1 and --bm25-b)",
    )
    evaluate.add_argument("--bm25-k1", type=float, help="BM25's k1 for --baseline bm25 (default: params.yaml bm25.k1)")
    evaluate.add_argument("--bm25-b", type=float, help="BM25's b for --baseline bm25 (default: params.yaml bm25.b)")
    evaluate.add_argument("--output", type=Path, help="also write the figures as JSON to this file")
    evaluate.add_argument(
        "--max-queries", type=_positive, help="score only the first N judged queries (the benchmark stage caps at 1000)"
    )
    evaluate.add_argument("--batch-size", type=_positive, default=32, help="documents per encoder call (default 32)")
    evaluate.add_argument(
        "--full-precision",
        action="store_true",
        help="score float32 weights instead of the 9 significant bits a rank_features index stores",
    )
    evaluate.add_argument(
        "--as-shipped",
        action="store_true",
        help="score with the model's statistics as shipped instead of fitting IDF and mean length to this corpus "
        "(deploy fits them to the corpus it indexes)",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")

    encode = _add(commands, "encode", _encode)
    encode.add_argument("model", help=model_help)
    encode.add_argument("texts", nargs="+", metavar="TEXT", help="texts to encode")
    encode.add_argument("--query", action="store_true", help="also print the query-side weights")
    encode.add_argument(
        "--top", type=_positive, default=30, help="words and expansion terms shown per side (default 30)"
    )
    encode.add_argument(
        "--json", action="store_true", help="every term, and the words of the text (key `words`), as JSON instead"
    )

    explain = _add(commands, "explain", _explain)
    explain.add_argument("model", help=model_help)
    explain.add_argument("--query", required=True, help="the query text")
    explain.add_argument("--doc", required=True, help="the document text (title and body, as indexed)")
    explain.add_argument(
        "--top", type=_positive, default=20, help="words and expansion terms shown per side (default 20)"
    )
    explain.add_argument(
        "--json", action="store_true", help="every term and match, and the same by word (key `words`), as JSON instead"
    )

    search = _add(commands, "search", _search)
    search.add_argument("query", help="the query text")
    search.add_argument("--variant", default="v2", help="the deployed variant whose index to search (default v2)")
    search.add_argument(
        "--benchmark", help="which of the variant's indices (a benchmark name; default: own corpus, else the first)"
    )
    search.add_argument("--deploy-dir", default="deploy", help="where deploy wrote <variant>/deployment.json")
    search.add_argument("--index", help="search this index instead (any cluster; with --model-id)")
    search.add_argument("--model-id", help="the deployed SPARSE_TOKENIZE/SPARSE_ENCODING model that encodes the query")
    search.add_argument("--hybrid", action="store_true", help="BM25 + neural sparse, min-max normalised and averaged")
    search.add_argument(
        "--hybrid-pipeline",
        default="nsparse-hybrid",
        help="the hybrid search pipeline of queries with Hangul; queries without take <name>-no-hangul "
        "(the benchmark stage writes both with the weights it chose; created with equal weights if missing)",
    )
    search.add_argument("-k", type=_positive, default=10, help="hits to show (default 10)")
    search.add_argument("--top", type=_positive, default=8, help="matched terms shown per hit (default 8)")
    search.add_argument("--json", action="store_true", help="the hits as JSON instead")

    opensearch_cli.register(commands)
    bench = _add(commands, "bench", _bench)
    benchmarks = bench.add_subparsers(dest="benchmark", required=True)
    scale = benchmarks.add_parser(
        "scale",
        help="BM25, v2 on rank_features and v2 on SEISMIC sparse_vector at growing corpus sizes",
        description="Build each system's index at each size (real documents, then synthetic ones that join two "
        "real documents' sentences), and measure build time, size on disk, latency under concurrent clients, "
        "SEISMIC's recall@10 against exact rank_features, and the node's memory. Needs OpenSearch >= 3.3.",
        epilog=textwrap.dedent(EXAMPLES["scale"]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scale.add_argument("--sizes", type=_positive, nargs="+", help="documents per corpus (default 10000 100000 1000000)")
    scale.add_argument(
        "--systems",
        nargs="+",
        choices=["bm25_nori", "v2_rank_features", "v2_sparse_vector"],
        help="systems to measure, in this order (default all three); recall needs both v2 systems",
    )
    scale.add_argument("--model", default="models/v2", help="the encoder whose vectors are indexed (default models/v2)")
    scale.add_argument("--benchmarks-dir", help="the BEIR benchmarks holding the real documents and queries")
    scale.add_argument("--queries", type=_positive, help="real queries timed per size and system (default 200)")
    scale.add_argument("--clients", type=_positive, help="concurrent clients while timing (default 4)")
    scale.add_argument("--seed", type=int, help="seed of the synthetic documents (default 0)")
    scale.add_argument(
        "--n-postings", type=_positive, help="SEISMIC: documents kept per posting list (default: a share of the corpus)"
    )
    scale.add_argument(
        "--n-postings-share",
        type=_share,
        help="SEISMIC: documents kept per posting list as a share of each corpus size (default 0.002; the plugin's "
        "own default is 0.0005), never below the plugin's minimum of 160",
    )
    scale.add_argument(
        "--cluster-ratio", type=_share, help="SEISMIC: clusters per posting list, share of its documents"
    )
    scale.add_argument("--summary-prune-ratio", type=_share, help="SEISMIC: share of a cluster summary's weight kept")
    scale.add_argument(
        "--approximate-threshold",
        type=int,
        help="SEISMIC: segments of at least this many documents are clustered, smaller ones searched exactly "
        "(default: each corpus' size, so only the force-merged segment is clustered)",
    )
    scale.add_argument(
        "--neural-breaker-limit",
        help="set neural-search's circuit breaker, which bounds SEISMIC's heap caches, for the run (e.g. 40%%; "
        "the cluster keeps its own, 10%% by default, unless given)",
    )
    scale.add_argument("--top-n", type=_positive, help="SEISMIC query: heaviest query tokens searched (default 10)")
    scale.add_argument("--heap-factor", type=float, help="SEISMIC query: cluster pruning slack (default 1.0)")
    scale.add_argument("--output", type=Path, default=Path("reports/scale.json"))
    scale.add_argument(
        "--plot",
        type=Path,
        default=Path("reports/scale_latency.png"),
        help="the latency plot (not under reports/plots/, which the report stage owns)",
    )
    scale.add_argument("--keep-indices", action="store_true", help="leave the indices on the cluster")
    cleanup = _add(commands, "cleanup", _cleanup)
    cleanup.add_argument("variant", help="the variant whose deployment to remove, e.g. v1")
    cleanup.add_argument("--deploy-dir", default="deploy", help="where deploy wrote deployment.json files")
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Faults in the user's input or environment (a bad path, folder or split, data that breaks its format,
    a cluster that is unreachable or refuses the request): printed as one line, not a traceback."""
    from nsparse.faults import UserFault
    from nsparse.opensearch.client import OpenSearchError

    return (UserFault, OpenSearchError, OSError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # ranx's numba kernels warn about an internal integer cast on every run: noise for a user.
    warnings.filterwarnings("ignore", message=".*unsafe cast from uint64 to int64.*")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"nsparse {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("NSPARSE_DEBUG") or not isinstance(err, _user_errors()):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"nsparse {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
