"""Stage `base`: the masked LM every sparse encoder starts from.

With `base.pretrained` set (a hub id such as
`opensearch-project/opensearch-neural-sparse-encoding-multilingual-v1`) the stage only
records it; otherwise it learns the vocabulary (tokenizer, stop pieces) on `data/pretrain/text.txt`
(with the documents of `base.vocabulary_corpora`)
and builds and pre-trains the masked LM on the text only when a variant trains the learned part
(`train.objective.learned_part`); the default model is the lexical floor, which has no transformer.
Either way `models/base/source.json` names what `train` loads.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nsparse.config import load_params
from nsparse.data.format import read_corpus
from nsparse.io import write_json, write_timings
from nsparse.model.base import build_base_model
from nsparse.model.threads import configure_threads
from nsparse.params import Params


def corpus_texts(benchmarks: Path, names: list[str]) -> list[str]:
    """Title and text of every document of the named benchmark corpora (never their queries), in id order."""
    documents: dict[str, str] = {}
    for name in names:
        for doc_id, document in read_corpus(benchmarks / name / "corpus.jsonl").items():
            documents[doc_id] = f"{document['title']} {document['text']}".strip()
    return [documents[doc_id] for doc_id in sorted(documents)]


def needs_pretraining(params: Params) -> bool:
    """Whether any variant trains the transformer's learned part, the only reader of the pre-trained weights."""
    return any(params.variant_train(name).objective.learned_part for name in params.variants)


def main() -> None:
    params = load_params()
    base, paths = params.base, params.paths
    output = paths.base
    if base.pretrained:
        write_json(f"{output}/source.json", {"model": base.pretrained, "trained_here": False})
        return
    configure_threads(base.threads)
    figures = build_base_model(
        Path(paths.pretrain) / "text.txt",
        output,
        base,
        params.seed,
        pretrain=needs_pretraining(params),
        vocabulary_texts=corpus_texts(Path(paths.benchmarks), base.vocabulary_corpora),
    )
    figures["threads"] = torch.get_num_threads()
    write_timings(paths.reports, "base", figures.pop("timings_s"))
    write_json(f"{output}/training.json", figures)
    write_json(f"{output}/source.json", {"model": output, "trained_here": True})


if __name__ == "__main__":
    main()
