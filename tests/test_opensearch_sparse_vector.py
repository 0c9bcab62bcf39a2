"""SEISMIC on a live 3.x node: a `sparse_vector` index ranks like exact `rank_features` over the same vectors."""

from __future__ import annotations

import numpy as np
import pytest

from nsparse.opensearch import index, search
from nsparse.opensearch.client import OpenSearchError
from nsparse.opensearch.index import SeismicMethod
from nsparse.opensearch.search import SeismicQuery
from nsparse.pipeline.scale import recall_at_k

pytestmark = pytest.mark.opensearch

SEISMIC_INDEX = "nsparse-test-seismic"
EXACT_INDEX = "nsparse-test-seismic-exact"
DOCUMENTS = 400
VOCABULARY = 300


@pytest.fixture
def sparse_vector_node(opensearch):
    version = index.node_version(opensearch)
    if version[:2] < index.SPARSE_VECTOR_MIN_VERSION:
        pytest.skip(
            f"the node runs OpenSearch {'.'.join(map(str, version))}; sparse_vector (SEISMIC) needs >= 3.3 "
            "(run the tests against e.g. NSPARSE_OPENSEARCH_VERSION=3.6.0 NSPARSE_OPENSEARCH_PORT=9250)"
        )
    return opensearch


def _vectors(count: int, seed: int, lengths: tuple[int, int]) -> list[dict[str, float]]:
    """Random vectors keyed by vocabulary id, term ids skewed like a real vocabulary's (Zipf-like)."""
    rng = np.random.default_rng(seed)
    share = 1 / np.arange(1, VOCABULARY + 1)
    share /= share.sum()
    vectors = []
    for _ in range(count):
        terms = rng.choice(VOCABULARY, size=int(rng.integers(*lengths)), replace=False, p=share)
        vectors.append({str(term): float(rng.uniform(0.05, 1.0)) for term in terms})
    return vectors


def test_seismic_top10_matches_exact_rank_features(sparse_vector_node):
    client = sparse_vector_node
    # 400 documents clustered as one segment (approximate_threshold below it): SEISMIC really runs,
    # and on so few documents it should find nearly all of the exact top 10.
    method = SeismicMethod(approximate_threshold=100, quantization_ceiling_ingest=1.0, quantization_ceiling_search=4.0)
    index.create_index(client, SEISMIC_INDEX, index.sparse_vector_index_body(method))
    index.create_index(client, EXACT_INDEX, index.sparse_index_body())
    docs = _vectors(DOCUMENTS, seed=1, lengths=(5, 40))
    for name in (SEISMIC_INDEX, EXACT_INDEX):
        rows = ({"_id": f"d{i}", "sparse": vector} for i, vector in enumerate(docs))
        assert index.bulk_index(client, name, rows, progress=False) == DOCUMENTS
        client.indices.forcemerge(index=name, max_num_segments=1)
        client.indices.refresh(index=name)

    mapping = client.indices.get_mapping(index=SEISMIC_INDEX)[SEISMIC_INDEX]["mappings"]["properties"]["sparse"]
    assert mapping["type"] == "sparse_vector" and mapping["method"]["name"] == "seismic"

    queries = _vectors(20, seed=2, lengths=(2, 8))
    approximate, exact = {}, {}
    for number, query in enumerate(queries):
        clause = search.neural_sparse_seismic_clause("sparse", query, SeismicQuery(k=10, top_n=len(query)))
        approximate[str(number)] = search.search(client, SEISMIC_INDEX, clause, k=10)
        exact[str(number)] = search.neural_sparse_tokens(client, EXACT_INDEX, "sparse", query, k=10)
    assert all(len(ranking) == 10 for ranking in exact.values())
    assert recall_at_k(approximate, exact, 10) >= 0.9


def test_sparse_vector_refuses_token_string_keys(sparse_vector_node):
    index.create_index(sparse_vector_node, SEISMIC_INDEX, index.sparse_vector_index_body())
    with pytest.raises(OpenSearchError, match=r"document 'word' refused.*valid integer"):
        index.bulk_index(sparse_vector_node, SEISMIC_INDEX, [{"_id": "word", "sparse": {"학교": 1.0}}], progress=False)
