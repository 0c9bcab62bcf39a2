"""Deploy one trained variant into OpenSearch: model registry, query model, indices, ingest.

Idempotent by content: models are reused when their zip's SHA-256 is already registered,
and an index is rebuilt only when it is missing or was built from other model or corpus
bytes (recorded in the index's `_meta`). So re-running deploy after deleting an index
recreates just that index, and never registers a duplicate model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from tqdm import tqdm

from nsparse.data import read_corpus
from nsparse.export import OnnxDocumentEncoder
from nsparse.opensearch import index as os_index
from nsparse.opensearch import ml
from nsparse.opensearch.client import OpenSearchError

log = logging.getLogger(__name__)

MAPPINGS = Path(__file__).resolve().parents[2] / "opensearch" / "mappings"
SPARSE_FIELD = "sparse"


@dataclass
class Deployment:
    """What deploy created for one variant; written to `deploy/<variant>/deployment.json`."""

    variant: str
    model_group_id: str
    query_model_id: str
    doc_model_id: str
    doc_model_deployed: bool
    ingest: str  # "pipeline" (ML Commons encodes) or "client" (ONNX Runtime here, then bulk)
    ingest_pipeline: str | None = None
    indices: dict[str, str] = field(default_factory=dict)  # benchmark -> index name
    doc_counts: dict[str, int] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        from nsparse.io import write_json

        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> "Deployment":
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sparse_index_body(meta: dict[str, Any], shards: int = 1, default_pipeline: str | None = None) -> dict[str, Any]:
    """The rank_features index mapping (opensearch/mappings/sparse.json) with nsparse's build record in `_meta`."""
    body = json.loads((MAPPINGS / "sparse.json").read_text(encoding="utf-8"))
    body.setdefault("mappings", {})["_meta"] = {"nsparse": meta}
    settings = body.setdefault("settings", {}).setdefault("index", {})
    settings["number_of_shards"] = shards
    if default_pipeline:
        settings["default_pipeline"] = default_pipeline
    return body


def index_is_current(client: OpenSearch, name: str, meta: dict[str, Any]) -> bool:
    """True when `name` exists, was built from the same bytes, and holds every document."""
    if not client.indices.exists(index=name):
        return False
    mapping = client.indices.get_mapping(index=name)[name]["mappings"]
    if mapping.get("_meta", {}).get("nsparse") != meta:
        return False
    client.indices.refresh(index=name)
    return client.count(index=name)["count"] == meta["documents"]


def _client_encoded(corpus: dict[str, dict[str, str]], encoder: OnnxDocumentEncoder, batch_size: int) -> Iterator[dict[str, Any]]:
    """Documents with their sparse vectors computed here by ONNX Runtime (the same graph ML Commons would run)."""
    ids = list(corpus)
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        texts = [_document_text(corpus[i]) for i in batch]
        for doc_id, weights in zip(batch, encoder.encode_weights(texts)):
            yield {"_id": doc_id, **corpus[doc_id], SPARSE_FIELD: weights}


def _document_text(doc: dict[str, str]) -> str:
    return f"{doc['title']} {doc['text']}".strip() if doc.get("title") else doc["text"]


def _raw_documents(corpus: dict[str, dict[str, str]]) -> Iterator[dict[str, Any]]:
    """Documents for the ingest pipeline: ML Commons encodes `passage` into the sparse field."""
    for doc_id, doc in corpus.items():
        yield {"_id": doc_id, **doc, "passage": _document_text(doc)}


def deploy_variant(
    client: OpenSearch,
    variant: str,
    export_dir: Path,
    benchmarks: dict[str, Path],
    params: dict[str, Any],
) -> Deployment:
    """Register, deploy and index one variant; see the module docstring for idempotency."""
    group_id = ml.ensure_model_group(client, params["model_group"], "nsparse sparse retrieval models")
    version = params.get("model_version", "1.0.0")
    query_model_id = ml.register_model_zip(
        client,
        export_dir / "sparse_tokenize.zip",
        name=f"nsparse-{variant}-query",
        version=version,
        function_name="SPARSE_TOKENIZE",
        model_format="TORCH_SCRIPT",
        model_group_id=group_id,
        description=f"nsparse {variant} query encoder: tokenizer + IDF (inference-free)",
    )
    ml.deploy_model(client, query_model_id, timeout_s=params["deploy_timeout_s"])
    doc_zip = export_dir / "sparse_encoding.zip"
    doc_model_id = ml.register_model_zip(
        client,
        doc_zip,
        name=f"nsparse-{variant}-doc",
        version=version,
        function_name="SPARSE_ENCODING",
        model_format="ONNX",
        model_group_id=group_id,
        description=f"nsparse {variant} document encoder (ONNX)",
    )
    ingest = params["ingest"]
    deployed = False
    if ingest in ("auto", "pipeline"):
        try:
            ml.deploy_model(client, doc_model_id, timeout_s=params["deploy_timeout_s"])
            deployed = True
        except OpenSearchError as err:
            if ingest == "pipeline":
                raise
            log.warning("ML Commons could not deploy the ONNX document model (%s); encoding documents client-side", err)
    mode = "pipeline" if deployed else "client"
    pipeline_name = None
    if mode == "pipeline":
        pipeline_name = f"nsparse-{variant}-ingest"
        os_index.put_ingest_pipeline(
            client,
            pipeline_name,
            {
                "description": f"nsparse {variant}: encode passages with the SPARSE_ENCODING model",
                "processors": [
                    {"sparse_encoding": {"model_id": doc_model_id, "field_map": {"passage": SPARSE_FIELD}}},
                    {"remove": {"field": "passage"}},
                ],
            },
        )
    deployment = Deployment(variant, group_id, query_model_id, doc_model_id, deployed, mode, pipeline_name)
    encoder = OnnxDocumentEncoder.load(export_dir) if mode == "client" else None
    model_hash = sha256_file(doc_zip)
    for name, folder in tqdm(benchmarks.items(), desc=f"deploy {variant}", unit="index"):
        corpus_file = folder / "corpus.jsonl"
        corpus = read_corpus(corpus_file)
        index_name = f"{params['index_prefix']}-{variant}-{name}"
        meta = {"doc_model_sha256": model_hash, "corpus_sha256": sha256_file(corpus_file), "documents": len(corpus), "ingest": mode}
        deployment.indices[name] = index_name
        deployment.doc_counts[name] = len(corpus)
        if index_is_current(client, index_name, meta):
            log.info("%s is current; not re-indexed", index_name)
            continue
        os_index.create_index(client, index_name, sparse_index_body(meta, default_pipeline=pipeline_name), replace=True)
        docs = _client_encoded(corpus, encoder, params["encode_batch_size"]) if encoder else _raw_documents(corpus)
        os_index.bulk_index(client, index_name, docs, batch_size=params["bulk_batch_size"])
        client.indices.refresh(index=index_name)
    return deployment


def cleanup(client: OpenSearch, deployment: Deployment) -> None:
    """Undo what deploy created for one variant: indices, pipeline, models (the group goes when empty)."""
    for index_name in deployment.indices.values():
        os_index.delete_index(client, index_name)
    if deployment.ingest_pipeline:
        client.ingest.delete_pipeline(id=deployment.ingest_pipeline, ignore=[404])
    for model_id in (deployment.doc_model_id, deployment.query_model_id):
        ml.undeploy_model(client, model_id)
        ml.delete_model(client, model_id)
    if not ml.find_models(client, group_id=deployment.model_group_id):
        ml.delete_model_group(client, deployment.model_group_id)
