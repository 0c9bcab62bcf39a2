"""A Korean→English token translation table learned with IBM Model 1 (Brown et al., 1993).

The pipeline holds parallel text (msmarco training records in both languages, LibreOffice
help pages, MUSE dictionary rows, and for v2 the verified synonyms). IBM Model 1's EM
over those pairs, in the model's own vocabulary, estimates t(e | k): the probability that
Korean token k is rendered as English token e (a NULL source absorbs English function
words). The encoder adds t(e | k) to e's term frequency for each occurrence of k, so a
Korean document carries the English terms a user would type (nsparse.model.encoder).
The settings are params.yaml's `train.lexical.translation` and `train.lexical.expansion`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from nsparse.korean import has_hangul
from nsparse.params import Expansion, IbmModel1, Translation


def _distinct_ids(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], keep: set[int], limit: int
) -> list[np.ndarray]:
    """Distinct kept token ids of each text, in first-seen order, at most `limit`."""
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    rows = []
    for ids in encoded:
        seen = list(dict.fromkeys(token for token in ids if token in keep))[:limit]
        rows.append(np.asarray(seen, dtype=np.int64))
    return rows


def ibm_model1(
    sources: Sequence[np.ndarray], targets: Sequence[np.ndarray], vocab_size: int, iterations: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM for t(target | source) over sentence pairs of distinct token ids; source id `vocab_size` is NULL.

    Returns (source ids, target ids, probabilities) of every co-occurring pair. Each pair
    contributes one expected alignment per target token, shared among its source tokens
    (and NULL) in proportion to the current t(target | source).
    """
    null = vocab_size
    source_parts, target_parts, occurrence_parts = [], [], []
    occurrences = 0
    for source, target in zip(sources, targets, strict=True):
        if len(source) == 0 or len(target) == 0:
            continue
        source = np.append(source, null)
        source_parts.append(np.repeat(source, len(target)))
        target_parts.append(np.tile(target, len(source)))
        occurrence_parts.append(occurrences + np.tile(np.arange(len(target)), len(source)))
        occurrences += len(target)
    if not source_parts:
        raise ValueError("IBM Model 1: no parallel pair has tokens on both sides")
    source_ids, target_ids = np.concatenate(source_parts), np.concatenate(target_parts)
    occurrence_of_link = np.concatenate(occurrence_parts)
    width = vocab_size + 1
    pair_keys, pair_of_link = np.unique(source_ids * width + target_ids, return_inverse=True)
    pair_sources = pair_keys // width
    probability = np.ones(len(pair_keys))
    for _ in tqdm(range(iterations), desc="IBM Model 1", unit="iteration", mininterval=5):
        likelihood = probability[pair_of_link]
        posterior = likelihood / np.bincount(occurrence_of_link, likelihood)[occurrence_of_link]
        counts = np.bincount(pair_of_link, posterior, minlength=len(pair_keys))
        probability = counts / np.bincount(pair_sources, counts, minlength=width)[pair_sources]
    return pair_sources, pair_keys % width, probability


def _learned_table(
    tokenizer: PreTrainedTokenizerBase,
    source_texts: Sequence[str],
    target_texts: Sequence[str],
    source_vocabulary: set[int],
    target_vocabulary: set[int],
    settings: IbmModel1,
    with_self: bool = True,
) -> dict[str, list[tuple[str, float]]]:
    """{source token: [(target token, t(target | source)), ...]} by IBM Model 1 over aligned texts.

    Tokens in more than `max_document_ratio` of a side's texts are function words and align
    to NULL; a source needs `min_count` texts; each keeps its `max_targets` most probable
    targets above `min_probability` (`with_self` false: a token is never its own target).
    """
    id_to_token = {index: token for token, index in tokenizer.get_vocab().items()}
    sources = _distinct_ids(tokenizer, source_texts, source_vocabulary, settings.max_tokens)
    targets = _distinct_ids(tokenizer, target_texts, target_vocabulary, settings.max_tokens)
    source_count = np.bincount(np.concatenate([*sources, np.zeros(0, np.int64)]), minlength=len(id_to_token))
    target_count = np.bincount(np.concatenate([*targets, np.zeros(0, np.int64)]), minlength=len(id_to_token))
    sources = [row[source_count[row] <= settings.max_document_ratio * len(sources)] for row in sources]
    targets = [row[target_count[row] <= settings.max_document_ratio * len(targets)] for row in targets]
    source_ids, target_ids, probability = ibm_model1(sources, targets, len(id_to_token), settings.iterations)
    keep = (
        (source_ids < len(id_to_token))
        & (probability >= settings.min_probability)
        & (source_count[np.minimum(source_ids, len(id_to_token) - 1)] >= settings.min_count)
    )
    if not with_self:
        keep &= source_ids != target_ids
    source_ids, target_ids, probability = source_ids[keep], target_ids[keep], probability[keep]
    table: dict[str, list[tuple[str, float]]] = {}
    for index in np.lexsort((-probability, source_ids)):
        source, target, weight = source_ids[index], target_ids[index], probability[index]
        entries = table.setdefault(id_to_token[int(source)], [])
        if len(entries) < settings.max_targets:
            entries.append((id_to_token[int(target)], round(float(weight), 4)))
    return table


def _is_whole_word(token: str) -> bool:
    """A piece that starts a word and holds a letter: `capital`, `서울`, not `##ition`, `k` or `.`."""
    return not token.startswith("##") and (len(token) > 1 or has_hangul(token)) and any(c.isalpha() for c in token)


def learn_translation_table(
    tokenizer: PreTrainedTokenizerBase,
    pairs: Iterable[tuple[str, str]],
    silent_ids: set[int],
    settings: Translation,
) -> dict[str, list[tuple[str, float]]]:
    """{Korean token: [(English token, t(e | k)), ...]} from (Korean text, English text) pairs."""
    pairs = list(pairs)
    korean_texts, english_texts = zip(*pairs, strict=True) if pairs else ((), ())
    vocab = tokenizer.get_vocab()
    korean_ids = {index for token, index in vocab.items() if index not in silent_ids and has_hangul(token)}
    english_ids = {  # whole words only: a fragment (`##ition`, `k`) would match unrelated words
        index
        for token, index in vocab.items()
        if index not in silent_ids and not has_hangul(token) and _is_whole_word(token)
    }
    table = _learned_table(tokenizer, korean_texts, english_texts, korean_ids, english_ids, settings)
    if settings.min_reverse_probability > 0:  # both directions agree: IBM Model 1's usual symmetrisation
        unbounded = settings.model_copy(
            update={"min_probability": settings.min_reverse_probability, "max_targets": len(korean_ids)}
        )
        reverse = _learned_table(tokenizer, english_texts, korean_texts, english_ids, korean_ids, unbounded)
        agreed = {(korean, english) for english, targets in reverse.items() for korean, _ in targets}
        table = {
            korean: kept
            for korean, targets in table.items()
            if (kept := [(english, weight) for english, weight in targets if (korean, english) in agreed])
        }
    return table


def learn_expansion_table(
    tokenizer: PreTrainedTokenizerBase,
    pairs: Iterable[tuple[str, str]],
    silent_ids: set[int],
    settings: Expansion,
) -> dict[str, list[tuple[str, float]]]:
    """{document token: [(query token, t(q | d)), ...]} from (query, relevant document) pairs.

    Berger and Lafferty's translation model of retrieval (1999), learned as Karimzadehgan and
    Zhai (2010) do with IBM Model 1 over query/document pairs: the words a user types for a
    document that the document does not hold (doc2query's effect, as a term table).
    Self-translations are left out: the floor already counts a token's own occurrences.
    Targets are whole words, so an expansion never adds a fragment that matches unrelated words.
    """
    pairs = list(pairs)
    queries, documents = zip(*pairs, strict=True) if pairs else ((), ())
    vocab = tokenizer.get_vocab()
    content = {  # pieces with a letter: punctuation and digits say nothing about what a document is about
        index for token, index in vocab.items() if index not in silent_ids and any(char.isalpha() for char in token)
    }
    words = {index for token, index in vocab.items() if index in content and _is_whole_word(token)}
    return _learned_table(tokenizer, documents, queries, content, words, settings, with_self=False)


def merged_table(
    translations: dict[str, list[tuple[str, float]]], expansions: dict[str, list[tuple[str, float]]], scale: float
) -> dict[str, list[tuple[str, float]]]:
    """Each source's translations plus `scale` x its expansions: expected counts that add where targets meet."""
    table = {source: dict(targets) for source, targets in translations.items()}
    if scale > 0:
        for source, targets in expansions.items():
            row = table.setdefault(source, {})
            for target, weight in targets:
                row[target] = round(row.get(target, 0.0) + scale * weight, 4)
    return {source: sorted(row.items(), key=lambda entry: -entry[1]) for source, row in table.items()}


def table_quality(
    table: dict[str, list[tuple[str, float]]], reference: Iterable[tuple[str, str]], tokenizer: PreTrainedTokenizerBase
) -> dict[str, float]:
    """Precision and recall of the table against a bilingual dictionary (word pairs that are one token each side).

    Precision: share of the table's entries for the dictionary's headwords that the
    dictionary lists; recall: share of the dictionary's single-token pairs the table holds.
    """
    vocab = tokenizer.get_vocab()
    gold: dict[str, set[str]] = {}
    for korean, english in reference:
        korean_tokens, english_tokens = tokenizer.tokenize(korean), tokenizer.tokenize(english)
        if len(korean_tokens) == 1 and len(english_tokens) == 1 and korean_tokens[0] in vocab:
            gold.setdefault(korean_tokens[0], set()).add(english_tokens[0])
    proposed = [(source, target) for source in gold for target, _ in table.get(source, [])]
    correct = sum(target in gold[source] for source, target in proposed)
    pairs = sum(len(targets) for targets in gold.values())
    return {
        "headwords": len(gold),
        "pairs": pairs,
        "entries": len(proposed),
        "precision": correct / len(proposed) if proposed else 0.0,
        "recall": correct / pairs if pairs else 0.0,
    }
