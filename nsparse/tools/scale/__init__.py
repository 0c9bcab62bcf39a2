"""`nsparse bench scale`: BM25 (nori), v2 on `rank_features` and v2 on SEISMIC `sparse_vector`, 10k to 1M documents.

The project holds about 18k real documents (the korquad and msmarco-ko corpora). Larger
corpora are the real documents followed by synthetic ones (`recombined_texts`): each joins a
run of sentences from one real document to a run from another, as long as a real document,
and is encoded by the model like any document, so BM25 and v2 index the same text, and the
topical term co-occurrence that SEISMIC's clusters rely on is real. (Terms drawn one by one
from the real frequencies have none: at 1M such documents SEISMIC's recall@10 was 0.69.)
Every figure is labelled with how many of its documents are synthetic.

Queries are real benchmark queries encoded as the product encodes them (inference-free:
tokenizer + IDF weights), sent as `query_tokens`, so no model is deployed. Per size and
system: build time and ingest rate, index size on disk, latency p50/p99 under concurrent
clients; for SEISMIC also recall@10 against the exact `rank_features` top 10 of the same
query vectors; and the node's heap and resident memory.

Loading: replicas 0, `refresh_interval: -1` during the bulk load, then refresh and a force
merge to one segment. SEISMIC clusters a segment's posting lists when a flush or a merge
writes a segment of at least `approximate_threshold` documents (smaller segments are
searched exactly). The benchmark sets it to the corpus size, so only the merged segment is
clustered, once: the whole index is then one clustered segment.

Split by job: `settings` (what a run measures, SEISMIC sized to each corpus), `corpus` (the
real and synthetic documents and the queries, encoded), `indices` (one index per system, built
and merged), `measure` (latency, recall, the node's memory), `report` (reports/scale.json kept
across runs, the latency plot), `run` (every size, every system).
"""
