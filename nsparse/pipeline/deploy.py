"""Deploy one trained variant into OpenSearch: model registry, query model, indices, ingest.

Idempotent by content: models are reused when their zip's SHA-256 is already registered,
and an index is rebuilt only when it is missing or was built from other model or corpus
bytes (recorded in the index's `_meta`). So re-running deploy after deleting an index
recreates just that index, and never registers a duplicate model.

Recorded as it goes: `deployment.json` is rewritten (atomically) after each thing deploy
creates, with `complete: false` until the end, so that after a failure (a node that
died, a refused request) `nsparse cleanup <variant>` still finds and removes what was
made, and a rerun of deploy picks up the registered models by content hash.
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
from nsparse.eval.baselines import corpus_fingerprint
from nsparse.eval.bm25 import document_text
from nsparse.export.onnx import OnnxDocumentEncoder
from nsparse.io import read_json, sha256_file, write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.opensearch import index as os_index
from nsparse.opensearch import ml
from nsparse.opensearch.client import ClusterUnreachable, OpenSearchError
from nsparse.opensearch.index import (
    PASSAGE_FIELD,
    SPARSE_FIELD,
    corpus_index_name,
    index_is_current,
    sparse_index_body,
    with_build_record,
)

log = logging.getLogger(__name__)


@dataclass
class Deployment:
    """What deploy created for one variant; written to `deploy/<variant>/deployment.json` as it goes.

    Ids are None until deploy has created that part; `complete` turns true only when
    every index is filled. `cleanup` accepts an incomplete record; `benchmark` needs a
    complete one (`require_complete`).
    """

    variant: str
    model_group_id: str | None = None
    query_model_id: str | None = None
    doc_model_id: str | None = None
    doc_model_deployed: bool = False
    ingest: str | None = None  # "pipeline" (ML Commons encodes) or "client" (ONNX Runtime here, then bulk)
    ingest_pipeline: str | None = None
    indices: dict[str, str] = field(default_factory=dict)  # benchmark -> index name
    doc_counts: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    def save(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> Deployment:
        fields = read_json(path)
        fields.setdefault("complete", True)  # records older than incremental writing were only written at the end
        return cls(**fields)

    def require_complete(self, path: Path) -> Deployment:
        """This record, if deploy finished; otherwise an error saying how to recover."""
        if not self.complete:
            raise RuntimeError(
                f"{path}: deploy of {self.variant} did not finish: rerun it (`dvc repro deploy@{self.variant}`) "
                f"or remove what it made with `nsparse cleanup {self.variant}`"
            )
        return self


def _with_passages(corpus: dict[str, dict[str, str]]) -> Iterator[dict[str, Any]]:
    """Documents for the ingest pipeline, which encodes their `passage`: title and text, as evaluated in process."""
    for doc_id, document in corpus.items():
        yield {"_id": doc_id, **document, PASSAGE_FIELD: document_text(document)}


def _client_encoded(
    corpus: dict[str, dict[str, str]], onnx: OnnxDocumentEncoder, batch_size: int, chunk: int = 2048
) -> Iterator[dict[str, Any]]:
    """Documents with title and text encoded here by ONNX Runtime: the very graph ML Commons would run."""
    ids = list(corpus)
    for start in range(0, len(ids), chunk):
        batch = ids[start : start + chunk]
        vectors = onnx.encode_documents([document_text(corpus[i]) for i in batch], batch_size=batch_size)
        for row, doc_id in enumerate(batch):
            yield {"_id": doc_id, **corpus[doc_id], SPARSE_FIELD: onnx.encoder.to_token_weights(vectors[row])}


@dataclass(frozen=True)
class ModelPackage:
    """One of the two ML Commons models a variant deploys, as export packaged it."""

    side: str  # "query" or "doc": the model's name is <index_prefix>-<variant>-<side>
    zip_name: str  # in the export folder
    function_name: str
    model_format: str
    description: str


QUERY_MODEL = ModelPackage(
    "query", "sparse_tokenize.zip", "SPARSE_TOKENIZE", "TORCH_SCRIPT", "query encoder: tokenizer + IDF (inference-free)"
)
DOC_MODEL = ModelPackage("doc", "sparse_encoding.zip", "SPARSE_ENCODING", "ONNX", "document encoder (ONNX)")


def model_name(params: dict[str, Any], variant: str, package: ModelPackage) -> str:
    """`<index_prefix>-<variant>-query|doc`: two projects on one cluster use two prefixes."""
    return f"{params['index_prefix']}-{variant}-{package.side}"


def register(
    client: OpenSearch, package: ModelPackage, export_dir: Path, variant: str, group_id: str, params: dict[str, Any]
) -> str:
    """Register the package (reused when the same zip bytes are registered already); return its model id."""
    return ml.register_model_zip(
        client,
        export_dir / package.zip_name,
        name=model_name(params, variant, package),
        version=params["model_version"],
        function_name=package.function_name,
        model_format=package.model_format,
        model_group_id=group_id,
        description=f"nsparse {variant} {package.description}",
    )


def deploy_replacing_older_versions(
    client: OpenSearch, package: ModelPackage, variant: str, model_id: str, params: dict[str, Any]
) -> None:
    """Deploy `model_id` and undeploy any other version of the same model (they stay registered)."""
    for model in ml.find_models(client, model_name(params, variant, package)):
        if model["model_id"] != model_id and model.get("model_state") in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
            ml.undeploy_model(client, model["model_id"])
    ml.deploy_model(client, model_id, timeout_s=params["deploy_timeout_s"])


def deploy_variant(
    client: OpenSearch,
    variant: str,
    model_dir: Path,
    export_dir: Path,
    benchmarks: dict[str, Path],
    params: dict[str, Any],
    record: Path | None = None,
) -> Deployment:
    """Register, deploy and index one variant; see the module docstring for idempotency and `record`.

    A cluster that stops answering is reported as such (`ClusterUnreachable`, naming the
    record and how to recover), never mistaken for ML Commons refusing the ONNX model.
    """
    deployment = Deployment(variant)
    try:
        _deploy(client, deployment, model_dir, export_dir, benchmarks, params, record)
    except ClusterUnreachable as err:
        kept = f"what it created is recorded in {record}" if record else "nothing was recorded"
        raise ClusterUnreachable(
            f"deploy {variant}: {err}; {kept}: rerun deploy once the cluster answers (registered models are reused "
            f"by content hash), or remove it with `nsparse cleanup {variant}`"
        ) from None
    return deployment


def _deploy(
    client: OpenSearch,
    deployment: Deployment,
    model_dir: Path,
    export_dir: Path,
    benchmarks: dict[str, Path],
    params: dict[str, Any],
    record: Path | None,
) -> None:
    def save() -> None:
        if record is not None:
            deployment.save(record)

    variant = deployment.variant
    save()
    deployment.model_group_id = ml.ensure_model_group(client, params["model_group"], "nsparse sparse retrieval models")
    save()
    deployment.query_model_id = register(client, QUERY_MODEL, export_dir, variant, deployment.model_group_id, params)
    save()  # recorded before deploying: a failed deploy is still cleaned up
    deploy_replacing_older_versions(client, QUERY_MODEL, variant, deployment.query_model_id, params)
    deployment.doc_model_id = register(client, DOC_MODEL, export_dir, variant, deployment.model_group_id, params)
    save()
    if params["ingest"] in ("auto", "pipeline"):
        try:
            deploy_replacing_older_versions(client, DOC_MODEL, variant, deployment.doc_model_id, params)
            deployment.doc_model_deployed = True
        except ClusterUnreachable:
            raise  # a dead or unreachable node is not ML Commons refusing the model
        except OpenSearchError as err:
            if params["ingest"] == "pipeline":
                raise
            log.warning("ML Commons could not deploy the ONNX document model (%s); encoding documents client-side", err)
    deployment.ingest = "pipeline" if deployment.doc_model_deployed else "client"
    save()
    if deployment.doc_model_deployed:
        deployment.ingest_pipeline = f"{params['index_prefix']}-{variant}-ingest"
        os_index.put_ingest_pipeline(
            client,
            deployment.ingest_pipeline,
            os_index.load_body("sparse_encoding_ingest_pipeline", model_id=deployment.doc_model_id),
        )
        save()
    onnx = (
        None
        if deployment.doc_model_deployed
        else OnnxDocumentEncoder(export_dir / "model.onnx", SparseEncoder.load(model_dir))
    )
    model_hash = sha256_file(export_dir / DOC_MODEL.zip_name)
    for name, folder in tqdm(benchmarks.items(), desc=f"deploy {variant}", unit="benchmark"):
        corpus = read_corpus(folder / "corpus.jsonl")
        fingerprint = corpus_fingerprint(corpus)
        # Benchmarks over the same corpus (korquad/codeswitch, msmarco-ko/-en2ko) share one index.
        index_name = corpus_index_name(params["index_prefix"], variant, fingerprint)
        deployment.indices[name] = index_name
        save()  # before creating it: a half-filled index is still cleaned up
        body = sparse_index_body()
        meta = {
            "doc_model_sha256": model_hash,
            "corpus_fingerprint": fingerprint,
            "documents": len(corpus),
            "ingest": deployment.ingest,
            "index_body_sha256": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
        }
        if index_is_current(client, index_name, meta):
            log.info("%s is current; not re-indexed", index_name)
        else:
            body = with_build_record(body, meta)
            if deployment.ingest_pipeline:
                body["settings"]["index"]["default_pipeline"] = deployment.ingest_pipeline
            os_index.create_index(client, index_name, body, replace=True)
            docs = _client_encoded(corpus, onnx, params["encode_batch_size"]) if onnx else _with_passages(corpus)
            os_index.bulk_index(client, index_name, docs, batch_size=params["bulk_batch_size"])
        deployment.doc_counts[name] = len(corpus)
        save()
    deployment.complete = True
    save()


def cleanup(client: OpenSearch, deployment: Deployment) -> None:
    """Undo what deploy created for one variant: indices, ingest pipeline and both models.

    Works on an incomplete record too (deploy failed half-way): parts never created
    are None or absent, and parts already gone are fine.
    """
    for index_name in set(deployment.indices.values()):
        os_index.delete_index(client, index_name)
    if deployment.ingest_pipeline:
        os_index.delete_ingest_pipeline(client, deployment.ingest_pipeline)
    for model_id in (deployment.doc_model_id, deployment.query_model_id):
        if model_id:
            ml.delete_model(client, model_id, missing_ok=True)
