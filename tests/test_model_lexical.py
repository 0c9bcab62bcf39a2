"""The lexical floor (BM25 inside the document encoder), the morpheme-aware vocabulary and the translation table."""

from __future__ import annotations

from dataclasses import replace

import bm25s
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from helpers import PARAMS, TINY, encoder_settings
from nsparse.data import Benchmark
from nsparse.export.onnx import check_parity, export_onnx
from nsparse.model.base import new_masked_lm
from nsparse.model.encoder import SparseEncoder
from nsparse.model.translation import (
    ibm_model1,
    learn_expansion_table,
    learn_translation_table,
    merged_table,
    table_quality,
)
from nsparse.model.vocabulary import load_stop_pieces, save_stop_pieces, train_tokenizer
from nsparse.pipeline.baselines import bm25_vocab_system

DOCUMENTS = [
    "서울은 대한민국의 수도이며 가장 큰 도시이다. 서울에는 많은 학교가 있다.",
    "부산은 대한민국 제2의 도시이며 항구 도시이다.",
    "학교에서 학생들은 수학과 과학을 공부한다.",
    "김치는 한국의 전통 음식이며 배추로 만든다.",
    "서울에서 부산까지 기차로 세 시간이 걸린다.",
    "The population of Seoul is about ten million.",
    "대학교 도서관에는 책이 많다. 학생들이 도서관에서 공부한다.",
]
QUERIES = ["서울의 학교", "부산 항구", "학생이 공부하는 곳", "김치 음식", "seoul population", "도서관 책"]
PARALLEL = [
    ("학교", "school"),
    ("학교에서 공부한다", "study at school"),
    ("서울의 인구", "population of seoul"),
    ("학교 도서관", "school library"),
    ("서울 학교", "seoul school"),
    ("도서관", "library"),
    ("도서관 책", "library book"),
    ("책", "book"),
    ("인구", "population"),
    ("서울", "seoul"),
] * 3
# (query, relevant document): users type 학교 (school) for documents about students that never say it.
QUERY_DOCUMENT_PAIRS = [
    ("학교 도서관", "대학교 도서관에는 책이 많다."),
    ("도서관 책", "대학교 도서관에는 책이 많다. 학생들이 도서관에서 공부한다."),
    ("학교 공부", "학생들은 수학과 과학을 공부한다."),
    ("학교 수학", "학생들은 수학을 공부한다."),
] * 3
# IBM Model 1 as params.yaml sets it, loosened for a corpus of a few sentences.
TRANSLATION = PARAMS.train.lexical.translation.merged(
    {"min_count": 1, "min_probability": 0.2, "max_document_ratio": 1.0}
)
EXPANSION = PARAMS.train.lexical.expansion.merged(
    {"iterations": 10, "min_count": 1, "min_probability": 0.2, "max_targets": 4, "max_document_ratio": 1.0}
)


@pytest.fixture(scope="module")
def vocabulary():
    return train_tokenizer(DOCUMENTS * 3 + [ko for ko, _ in PARALLEL] + [en for _, en in PARALLEL], 600, 1)


def floor_encoder(vocabulary, translations: bool = False, expansions: bool = False) -> SparseEncoder:
    tokenizer, stops = vocabulary
    torch.manual_seed(0)
    encoder = SparseEncoder(
        new_masked_lm(tokenizer, TINY),
        tokenizer,
        encoder_settings(prune_ratio=0.0, max_length=64, passage_overlap=None, query_max_length=64, window=16),
        stop_pieces=stops,
    )
    if translations:
        silent = set(torch.nonzero(encoder.silent_tokens).flatten().tolist())
        table = learn_translation_table(tokenizer, PARALLEL, silent, TRANSLATION)
        if expansions:
            table = merged_table(table, learn_expansion_table(tokenizer, QUERY_DOCUMENT_PAIRS, silent, EXPANSION), 0.5)
        encoder.set_translations(table)
    encoder.fit_lexical_statistics(DOCUMENTS)
    return encoder.eval()


def test_pieces_follow_morpheme_boundaries(vocabulary) -> None:
    tokenizer, stops = vocabulary
    assert tokenizer.tokenize("학교에서")[:2] == ["학교", "##에서"]
    assert "##에서" in stops and "학교" not in stops
    assert tokenizer.tokenize("학교는")[0] == "학교"  # the noun of a query matches the noun in a document


def test_untrained_floor_scores_exactly_bm25_over_the_vocabulary(vocabulary) -> None:
    encoder = floor_encoder(vocabulary)
    tokenizer = encoder.tokenizer
    silent = set(encoder.stop_pieces) | set(tokenizer.all_special_tokens)
    documents = [[token for token in tokenizer.tokenize(text) if token not in silent] for text in DOCUMENTS]
    index = bm25s.BM25(k1=encoder.settings.k1, b=encoder.settings.b, method="lucene")
    index.index(documents, show_progress=False)
    scores = (encoder.encode_queries(QUERIES) @ encoder.encode_documents(DOCUMENTS).T).toarray()
    for row, query in enumerate(QUERIES):
        tokens = sorted({token for token in tokenizer.tokenize(query) if token not in silent})
        expected = index.get_scores(tokens)
        np.testing.assert_allclose(scores[row], expected, rtol=1e-5, atol=1e-6)
        assert scores[row].max() > 0


def bm25_scores(encoder: SparseEncoder, documents: list[str], queries: list[str]) -> np.ndarray:
    """bm25s (Lucene) over the encoder's own tokens of `documents`, stop pieces and special tokens left out."""
    tokenizer = encoder.tokenizer
    silent = set(encoder.stop_pieces) | set(tokenizer.all_special_tokens)
    index = bm25s.BM25(k1=encoder.settings.k1, b=encoder.settings.b, method="lucene")
    index.index([[t for t in tokenizer.tokenize(text) if t not in silent] for text in documents], show_progress=False)
    return np.stack([index.get_scores(sorted({t for t in tokenizer.tokenize(q) if t not in silent})) for q in queries])


def test_a_floor_fitted_to_another_corpus_scores_exactly_bm25_over_that_corpus(vocabulary, tmp_path) -> None:
    encoder = floor_encoder(vocabulary)  # statistics of DOCUMENTS
    target = DOCUMENTS[2:] + ["학교 학교 학교 도서관. 학생이 많은 학교.", "부산 항구에는 배가 많다."]
    encoder.save(tmp_path / "model")
    shipped = SparseEncoder.load(tmp_path / "model").eval()
    as_shipped = (shipped.encode_queries(QUERIES) @ shipped.encode_documents(target).T).toarray()
    record = shipped.fit_lexical_statistics(target)
    fitted = (shipped.encode_queries(QUERIES) @ shipped.encode_documents(target).T).toarray()
    np.testing.assert_allclose(fitted, bm25_scores(shipped, target, QUERIES), rtol=1e-5, atol=1e-6)
    assert not np.allclose(as_shipped, fitted)  # the shipped statistics were another corpus's
    assert record["documents"] == len(target) and len(record["sha256"]) == 64
    shipped.save(tmp_path / "fitted")  # the package records which corpus it was fitted to
    assert SparseEncoder.load(tmp_path / "fitted").fitted_corpus == record


def test_refitting_keeps_what_training_learned_on_top_of_the_idf(vocabulary, tmp_path) -> None:
    encoder = floor_encoder(vocabulary)
    corpus_idf = encoder.idf.detach().clone()
    with torch.no_grad():  # as training leaves it: a learned log re-weighting of the IDF
        encoder.idf_log_scale.copy_(torch.linspace(-0.5, 0.5, corpus_idf.shape[0]))
    learned = torch.exp(encoder.idf_log_scale.detach())
    encoder.save(tmp_path / "model")
    loaded = SparseEncoder.load(tmp_path / "model").eval()
    torch.testing.assert_close(loaded.query_weights(), encoder.query_weights())  # as shipped: unchanged
    loaded.fit_lexical_statistics(DOCUMENTS)  # the same corpus again: the same weights
    torch.testing.assert_close(loaded.query_weights(), encoder.query_weights(), rtol=1e-5, atol=1e-6)
    other = floor_encoder(vocabulary)
    other.fit_lexical_statistics(DOCUMENTS[:3])
    loaded.fit_lexical_statistics(DOCUMENTS[:3])  # another corpus: its IDF times the same learned multipliers
    expected = (other.idf.detach() * learned).masked_fill(loaded.silent_tokens, 0.0)
    torch.testing.assert_close(loaded.query_weights(), expected, rtol=1e-5, atol=1e-6)


def test_long_documents_are_cut_read_whole_or_max_pooled_over_overlapping_passages(vocabulary) -> None:
    encoder = floor_encoder(vocabulary)
    long_text = " ".join([DOCUMENTS[1]] * 40) + " 김치"
    tokens = encoder.tokenizer.tokenize(long_text)
    assert len(tokens) > 512

    def weights(**settings: object) -> dict[str, float]:
        encoder.settings = replace(encoder.settings, **settings)
        return encoder.to_token_weights(encoder.encode_documents([long_text, DOCUMENTS[0]])[0])

    assert "김치" not in weights(max_length=512, passage_overlap=None)  # cut where ML Commons stops
    assert "김치" in weights(max_length=None, passage_overlap=None)  # whole
    pooled = weights(max_length=512, passage_overlap=128)
    passages = encoder.passages(long_text)
    lengths = [len(encoder.tokenizer(passage)["input_ids"]) for passage in passages]
    assert len(passages) == 2 and max(lengths) <= 512 and "김치" in passages[-1]
    pieces = [encoder.tokenizer.tokenize(passage) for passage in passages]  # cut between words: no piece changes
    assert pieces[0] == tokens[: len(pieces[0])] and pieces[-1] == tokens[-len(pieces[-1]) :]
    assert 0 < len(pieces[0]) + len(pieces[1]) - len(tokens) <= 128  # the passages overlap, and cover every token
    each = encoder.encode_documents(passages).toarray()
    assert pooled == encoder.to_token_weights(each.max(axis=0))  # one vector: the max over the passages
    assert encoder.passages(DOCUMENTS[0]) == [DOCUMENTS[0]]  # a short document is its own passage


def test_gate_switches_the_learned_part_on(vocabulary) -> None:
    encoder = floor_encoder(vocabulary)
    batch = encoder.tokenize(DOCUMENTS, 64)
    with torch.no_grad():
        floor = encoder.lexical_floor(**batch)
        assert torch.equal(encoder(**batch), floor)
        encoder.gate.fill_(1.0)
        assert torch.all(encoder(**batch) >= floor) and not torch.equal(encoder(**batch), floor)


def test_ibm_model1_learns_the_translation_of_cooccurring_words() -> None:
    # three pairs: (a b | x y), (a | x), (b | y): EM must align a->x and b->y
    sources = [np.array([0, 1]), np.array([0]), np.array([1])]
    targets = [np.array([2, 3]), np.array([2]), np.array([3])]
    source_ids, target_ids, probability = ibm_model1(sources, targets, vocab_size=4, iterations=10)
    table = {(int(s), int(t)): float(p) for s, t, p in zip(source_ids, target_ids, probability, strict=True)}
    assert table[0, 2] > 0.6 and table[0, 3] < 0.2
    assert table[1, 3] > 0.6 and table[1, 2] < 0.2


def test_translation_table_expands_korean_documents_with_english_terms(vocabulary) -> None:
    encoder = floor_encoder(vocabulary, translations=True)
    table = encoder.translations()
    assert ("school", pytest.approx(table["학교"][0][1])) == (table["학교"][0][0], table["학교"][0][1])
    quality = table_quality(table, [("학교", "school"), ("도서관", "library")], encoder.tokenizer)
    assert quality["precision"] > 0.5 and quality["recall"] == 1.0
    scores = (encoder.encode_queries(["school library"]) @ encoder.encode_documents(DOCUMENTS).T).toarray()[0]
    assert int(np.argmax(scores)) == 6  # the Korean library document, which holds no English word


def test_reverse_agreement_keeps_a_subset_of_the_translations(vocabulary) -> None:
    encoder = floor_encoder(vocabulary)
    silent = set(torch.nonzero(encoder.silent_tokens).flatten().tolist())
    settings = TRANSLATION.merged({"min_probability": 0.1})
    table = learn_translation_table(encoder.tokenizer, PARALLEL, silent, settings)
    agreed = learn_translation_table(
        encoder.tokenizer, PARALLEL, silent, settings.merged({"min_reverse_probability": 0.6})
    )
    entries = {(source, target) for source, targets in table.items() for target, _ in targets}
    kept = {(source, target) for source, targets in agreed.items() for target, _ in targets}
    assert ("서울", "seoul") in kept and ("인구", "of") not in kept and kept < entries  # `of`: t(인구 | of) is low


def test_expansion_table_adds_the_query_words_a_document_lacks(vocabulary) -> None:
    encoder = floor_encoder(vocabulary)
    silent = set(torch.nonzero(encoder.silent_tokens).flatten().tolist())
    settings = EXPANSION.merged({"min_probability": 0.05, "max_targets": 2})
    expansions = learn_expansion_table(encoder.tokenizer, QUERY_DOCUMENT_PAIRS, silent, settings)
    assert any(target == "학교" for targets in expansions.values() for target, _ in targets)
    assert all(source != target for source, targets in expansions.items() for target, _ in targets)
    assert not any(target.startswith("##") for targets in expansions.values() for target, _ in targets)
    documents = ["학생들은 과학을 공부한다.", "부산은 항구 도시이다."]
    before = encoder.encode_queries(["학교"]) @ encoder.encode_documents(documents).T
    encoder.set_translations(merged_table({}, expansions, 1.0))
    after = encoder.encode_queries(["학교"]) @ encoder.encode_documents(documents).T
    assert before.toarray()[0, 0] == 0 and after.toarray()[0, 0] > 0 and after.toarray()[0, 1] == 0


def test_merged_table_adds_scaled_expansions_to_translations() -> None:
    table = merged_table({"학교": [("school", 0.5)]}, {"학교": [("school", 0.2), ("학생", 0.4)]}, 0.5)
    assert table == {"학교": [("school", 0.6), ("학생", 0.2)]}
    assert merged_table({"학교": [("school", 0.5)]}, {"학교": [("학생", 0.4)]}, 0.0) == {"학교": [("school", 0.5)]}


def test_onnx_graph_of_floor_translations_and_expansions_matches_pytorch(vocabulary, tmp_path) -> None:
    encoder = floor_encoder(vocabulary, translations=True, expansions=True)
    assert any(target.startswith("학") for targets in encoder.translations().values() for target, _ in targets)
    with torch.no_grad():
        encoder.gate.fill_(0.5)
    export_onnx(encoder, tmp_path / "model.onnx", opset=17)
    figures = check_parity(encoder, tmp_path / "model.onnx", DOCUMENTS, atol=1e-4, top_k=10)
    assert figures["max_abs_diff"] <= 1e-4 and figures["top_k_mismatches"] == 0
    long_text = " ".join(DOCUMENTS * 3)  # longer than the transformer's window: the graph slices it
    batch = encoder.tokenizer([long_text], truncation=True, max_length=64, return_tensors="np")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(
        None, {"input1.input_ids": batch["input_ids"], "input1.attention_mask": batch["attention_mask"]}
    )
    with torch.no_grad():
        expected = encoder(torch.from_numpy(batch["input_ids"]), torch.from_numpy(batch["attention_mask"])).numpy()
    np.testing.assert_allclose(output, expected, atol=1e-4)


def test_save_and_load_keep_floor_gate_translations_and_stop_pieces(vocabulary, tmp_path) -> None:
    encoder = floor_encoder(vocabulary, translations=True)
    with torch.no_grad():
        encoder.gate.fill_(0.25)
    encoder.save(tmp_path / "model")
    loaded = SparseEncoder.load(tmp_path / "model").eval()
    assert loaded.settings == encoder.settings and loaded.gate.item() == pytest.approx(0.25)
    assert loaded.translations() == encoder.translations() and loaded.stop_pieces == encoder.stop_pieces
    original, reloaded = encoder.encode_documents(DOCUMENTS), loaded.encode_documents(DOCUMENTS)
    np.testing.assert_allclose(original.toarray(), reloaded.toarray(), atol=1e-6)
    save_stop_pieces(tmp_path / "stops", ["##는"])
    assert load_stop_pieces(tmp_path / "stops") == ["##는"] and load_stop_pieces(tmp_path) == []


def test_bm25_vocab_baseline_ranks_as_the_untrained_floor(vocabulary, tmp_path) -> None:
    encoder = floor_encoder(vocabulary)
    encoder.tokenizer.save_pretrained(tmp_path)
    save_stop_pieces(tmp_path, encoder.stop_pieces)
    benchmark = Benchmark(
        corpus={f"d{i}": {"title": "", "text": text} for i, text in enumerate(DOCUMENTS)},
        queries={f"q{i}": text for i, text in enumerate(QUERIES)},
        qrels={},
    )
    run = bm25_vocab_system(str(tmp_path), k1=encoder.settings.k1, b=encoder.settings.b)("tiny", benchmark, 10)
    scores = (encoder.encode_queries(QUERIES) @ encoder.encode_documents(DOCUMENTS).T).toarray()
    for row in range(len(QUERIES)):
        expected = {f"d{i}": score for i, score in enumerate(scores[row]) if score > 0}
        assert run[f"q{row}"].keys() == expected.keys()
        np.testing.assert_allclose([run[f"q{row}"][doc] for doc in expected], list(expected.values()), rtol=1e-5)


def test_a_floor_model_exports_without_its_transformer(vocabulary, tmp_path) -> None:
    """Gate 0: the exported graph is the floor alone (what ML Commons runs per document), with the same vectors."""
    encoder = floor_encoder(vocabulary, translations=True)
    export_onnx(encoder, tmp_path / "floor.onnx", opset=17)
    with torch.no_grad():
        encoder.gate.fill_(0.5)
    export_onnx(encoder, tmp_path / "gated.onnx", opset=17)
    with torch.no_grad():
        encoder.gate.fill_(0.0)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "floor.onnx")).graph.node}
    assert "MatMul" not in ops and "ScatterElements" in ops
    assert (tmp_path / "floor.onnx").stat().st_size < (tmp_path / "gated.onnx").stat().st_size / 2
    figures = check_parity(encoder, tmp_path / "floor.onnx", DOCUMENTS, atol=1e-5, top_k=10)
    assert figures["max_abs_diff"] <= 1e-5 and figures["top_k_mismatches"] == 0


def test_a_floor_model_whose_learned_part_did_not_train_saves_no_transformer(vocabulary, tmp_path) -> None:
    """Gate shut and frozen (train.objective.learned_part off): the folder holds no masked LM, and the reloaded
    model writes the same document and query vectors and exports the same floor graph."""
    encoder = floor_encoder(vocabulary, translations=True)
    encoder.gate.requires_grad_(False)
    encoder.save(tmp_path / "model")
    assert not (tmp_path / "model" / "model.safetensors").exists()
    assert not (tmp_path / "model" / "config.json").exists()
    loaded = SparseEncoder.load(tmp_path / "model").eval()
    assert loaded.mlm is None and loaded.settings == encoder.settings
    np.testing.assert_allclose(
        encoder.encode_documents(DOCUMENTS).toarray(), loaded.encode_documents(DOCUMENTS).toarray(), atol=1e-6
    )
    np.testing.assert_allclose(
        encoder.encode_queries(DOCUMENTS).toarray(), loaded.encode_queries(DOCUMENTS).toarray(), atol=1e-6
    )
    export_onnx(loaded, tmp_path / "floor.onnx", opset=17)
    figures = check_parity(loaded, tmp_path / "floor.onnx", DOCUMENTS, atol=1e-5, top_k=10)
    assert figures["max_abs_diff"] <= 1e-5 and figures["top_k_mismatches"] == 0
