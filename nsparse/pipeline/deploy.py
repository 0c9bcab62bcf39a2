"""Deploy one trained variant into OpenSearch: model registry, query model, indices, ingest.

Each index gets models fitted to its own corpus (`fit_statistics`, the default): BM25's
statistics (the query IDF and the document length normalisation) come from the documents
being indexed, as BM25 in OpenSearch computes them, while what training learned (the
query weights' multipliers, translations) stays. Fitting takes seconds and no retraining;
the corpus's package (ONNX graph, ML Commons zips, manifest naming the corpus) is written
to `deploy/<variant>/<corpus>/`. With `fit_statistics: false` every index gets the model as
shipped (statistics of `train.lexical.idf_corpora`).

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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from tqdm import tqdm

from nsparse.data import read_corpus
from nsparse.eval.baselines import corpus_fingerprint
from nsparse.eval.bm25 import document_text
from nsparse.export.mlcommons import ML_COMMONS_MAX_TOKENS
from nsparse.export.onnx import OnnxDocumentEncoder
from nsparse.export.package import package_fitted
from nsparse.io import read_json, sha256_file, write_json
from nsparse.model.encoder import SparseEncoder
from nsparse.opensearch import index as os_index
from nsparse.opensearch import ml
from nsparse.opensearch.client import ClusterUnreachable, OpenSearchError
from nsparse.opensearch.index import (
    PASSAGE_FIELD,
    PIPELINE_KEY,
    SPARSE_FIELD,
    corpus_index_name,
    index_is_current,
    sparse_index_body,
    with_build_record,
)
from nsparse.params import Deploy, Export
from nsparse.pipeline.fitting import fit_to_corpus, parity_sample

log = logging.getLogger(__name__)

AS_SHIPPED = "shipped"  # the models' key when every corpus gets the model as shipped


@dataclass
class CorpusModels:
    """The query and document models serving the indices of one corpus (a `Deployment.corpora` entry)."""

    package: str  # the folder whose zips were registered: deploy/<variant>/<corpus>, or the export as shipped
    fitted_to: dict[str, Any] | None = None  # documents, sha256, avg_doc_length of the corpus the statistics fit
    query_model_id: str | None = None
    doc_model_id: str | None = None
    ingest_pipeline: str | None = None


@dataclass
class Deployment:
    """What deploy created for one variant; written to `deploy/<variant>/deployment.json` as it goes.

    Ids are None until deploy has created that part; `complete` turns true only when
    every index is filled. `cleanup` accepts an incomplete record; `benchmark` needs a
    complete one (`require_complete`). Benchmarks over one corpus share its models and index.
    """

    variant: str
    statistics: str = "fitted"  # "fitted" (to each index's corpus) or "as-shipped"
    model_group_id: str | None = None
    ingest: str | None = None  # "pipeline" (ML Commons encodes) or "client" (ONNX Runtime here, then bulk)
    corpora: dict[str, CorpusModels] = field(default_factory=dict)  # corpus key -> its models
    corpus_of: dict[str, str] = field(default_factory=dict)  # benchmark -> corpus key
    indices: dict[str, str] = field(default_factory=dict)  # benchmark -> index name
    doc_counts: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    def models(self, benchmark: str) -> CorpusModels:
        """The models of `benchmark`'s corpus."""
        return self.corpora[self.corpus_of[benchmark]]

    def query_model_id(self, benchmark: str) -> str:
        """The deployed SPARSE_TOKENIZE model that encodes queries for `benchmark`'s index."""
        model_id = self.models(benchmark).query_model_id
        if model_id is None:
            raise RuntimeError(f"deploy of {self.variant}: no query model for {benchmark} (deploy did not finish)")
        return model_id

    def save(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> Deployment:
        fields = read_json(path)
        fields.setdefault("complete", True)  # records older than incremental writing were only written at the end
        if "query_model_id" in fields:  # a record from before per-corpus models: one pair served every index
            shipped = CorpusModels(
                package="",
                query_model_id=fields.pop("query_model_id"),
                doc_model_id=fields.pop("doc_model_id", None),
                ingest_pipeline=fields.pop("ingest_pipeline", None),
            )
            fields.pop("doc_model_deployed", None)
            fields.update(statistics="as-shipped", corpora={AS_SHIPPED: shipped})
            fields["corpus_of"] = dict.fromkeys(fields.get("indices", {}), AS_SHIPPED)
            return cls(**fields)
        fields["corpora"] = {key: CorpusModels(**models) for key, models in fields.get("corpora", {}).items()}
        return cls(**fields)

    def require_complete(self, path: Path) -> Deployment:
        """This record, if deploy finished; otherwise an error saying how to recover."""
        if not self.complete:
            raise RuntimeError(
                f"{path}: deploy of {self.variant} did not finish: rerun it (`dvc repro deploy@{self.variant}`) "
                f"or remove what it made with `nsparse cleanup {self.variant}`"
            )
        return self


def _through_pipeline(
    corpus: dict[str, dict[str, str]], onnx: OnnxDocumentEncoder, encoder: SparseEncoder
) -> Iterator[dict[str, Any]]:
    """Documents for the ingest pipeline, which encodes their `passage` (title and text, as evaluated in process).

    ML Commons reads at most `ML_COMMONS_MAX_TOKENS` of a document; a longer one is encoded here by the same
    ONNX graph (max-pooled over its passages, or whole, as the encoder's settings say) and bypasses the pipeline,
    so no document loses its tail.
    """
    readable = min(ML_COMMONS_MAX_TOKENS, encoder.settings.max_length or ML_COMMONS_MAX_TOKENS)
    for doc_id, document in corpus.items():
        text = document_text(document)
        if len(encoder.tokenizer(text)["input_ids"]) <= readable:
            yield {"_id": doc_id, **document, PASSAGE_FIELD: text}
            continue
        vector = onnx.encode_documents([text])[0]
        yield {"_id": doc_id, **document, SPARSE_FIELD: encoder.to_token_weights(vector), PIPELINE_KEY: "_none"}


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


def model_name(index_prefix: str, variant: str, package: ModelPackage, corpus: str = AS_SHIPPED) -> str:
    """`<index_prefix>-<variant>[-<corpus>]-query|doc`: a corpus's own fitted pair, or the one pair as shipped;
    two projects on one cluster use two prefixes."""
    fitted = "" if corpus == AS_SHIPPED else f"-{corpus}"
    return f"{index_prefix}-{variant}{fitted}-{package.side}"


def register(client: OpenSearch, package: ModelPackage, folder: Path, name: str, group_id: str, version: str) -> str:
    """Register the package (reused when the same zip bytes are registered already); return its model id."""
    return ml.register_model_zip(
        client,
        folder / package.zip_name,
        name=name,
        version=version,
        function_name=package.function_name,
        model_format=package.model_format,
        model_group_id=group_id,
        description=f"nsparse {name}: {package.description}",
    )


def deploy_replacing_older_versions(client: OpenSearch, name: str, model_id: str, timeout_s: float) -> None:
    """Deploy `model_id` and undeploy any other version of the model `name` (they stay registered)."""
    for model in ml.find_models(client, name):
        if model["model_id"] != model_id and model.get("model_state") in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
            ml.undeploy_model(client, model["model_id"])
    ml.deploy_model(client, model_id, timeout_s=timeout_s)


def deploy_variant(
    client: OpenSearch,
    variant: str,
    model_dir: Path,
    export_dir: Path,
    benchmarks: dict[str, Path],
    deploy: Deploy,
    export: Export,
    record: Path | None = None,
) -> Deployment:
    """Register, deploy and index one variant; see the module docstring for fitting, idempotency and `record`.

    A cluster that stops answering is reported as such (`ClusterUnreachable`, naming the
    record and how to recover), never mistaken for ML Commons refusing the ONNX model.
    """
    deployment = Deployment(variant, statistics="fitted" if deploy.fit_statistics else "as-shipped")
    try:
        _deploy(client, deployment, model_dir, export_dir, benchmarks, deploy, export, record)
    except ClusterUnreachable as err:
        kept = f"what it created is recorded in {record}" if record else "nothing was recorded"
        raise ClusterUnreachable(
            f"deploy {variant}: {err}; {kept}: rerun deploy once the cluster answers (registered models are reused "
            f"by content hash), or remove it with `nsparse cleanup {variant}`"
        ) from None
    return deployment


def corpus_key(fingerprint: str) -> str:
    """The short name of a corpus in model, pipeline and folder names."""
    return fingerprint[:12]


def _deploy(
    client: OpenSearch,
    deployment: Deployment,
    model_dir: Path,
    export_dir: Path,
    benchmarks: dict[str, Path],
    deploy: Deploy,
    export: Export,
    record: Path | None,
) -> None:
    def save() -> None:
        if record is not None:
            deployment.save(record)

    variant = deployment.variant
    save()
    deployment.model_group_id = ml.ensure_model_group(client, deploy.model_group, "nsparse sparse retrieval models")
    save()
    fitted_root = record.parent if record else export_dir.with_name(f"{export_dir.name}-fitted")
    encoders: dict[str, SparseEncoder] = {}  # corpus key -> the encoder its models were packaged from
    for name, folder in tqdm(benchmarks.items(), desc=f"deploy {variant}", unit="benchmark"):
        corpus = read_corpus(folder / "corpus.jsonl")
        fingerprint = corpus_fingerprint(corpus)
        key = corpus_key(fingerprint) if deploy.fit_statistics else AS_SHIPPED
        deployment.corpus_of[name] = key
        if key not in deployment.corpora:
            encoders[key] = SparseEncoder.load(model_dir).eval()
            package = export_dir
            if key != AS_SHIPPED:  # fitted to this corpus (seconds), and packaged for it
                package = fitted_root / key
                fit_to_corpus(encoders[key], corpus)
                package_fitted(encoders[key], package, parity_sample(corpus, export.parity.texts), export)
            deployment.corpora[key] = CorpusModels(str(package), fitted_to=encoders[key].fitted_corpus)
            _serve(client, deployment, key, encoders[key], deploy, save)
        encoder, models = encoders[key], deployment.corpora[key]
        # Benchmarks over the same corpus (korquad/codeswitch, msmarco-ko/-en2ko) share one index.
        index_name = corpus_index_name(deploy.index_prefix, variant, fingerprint)
        deployment.indices[name] = index_name
        save()  # before creating it: a half-filled index is still cleaned up
        body = sparse_index_body()
        meta = {
            "doc_model_sha256": sha256_file(Path(models.package) / DOC_MODEL.zip_name),
            "corpus_fingerprint": fingerprint,
            "documents": len(corpus),
            "ingest": deployment.ingest,
            "index_body_sha256": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
        }
        if index_is_current(client, index_name, meta):
            log.info("%s is current; not re-indexed", index_name)
        else:
            body = with_build_record(body, meta)
            if models.ingest_pipeline:
                body["settings"]["index"]["default_pipeline"] = models.ingest_pipeline
            os_index.create_index(client, index_name, body, replace=True)
            onnx = OnnxDocumentEncoder(Path(models.package) / "model.onnx", encoder)
            if models.ingest_pipeline:
                docs = _through_pipeline(corpus, onnx, encoder)
            else:
                docs = _client_encoded(corpus, onnx, deploy.encode_batch_size)
            os_index.bulk_index(client, index_name, docs, batch_size=deploy.bulk_batch_size)
        deployment.doc_counts[name] = len(corpus)
        save()
    deployment.complete = True
    save()


def _serve(
    client: OpenSearch,
    deployment: Deployment,
    key: str,
    encoder: SparseEncoder,
    deploy: Deploy,
    save: Callable[[], None],
) -> None:
    """Register and deploy one corpus's query and document models, and its ingest pipeline (or client ingest)."""
    models, variant = deployment.corpora[key], deployment.variant
    package, group = Path(models.package), deployment.model_group_id
    assert group is not None
    query_name, doc_name = (model_name(deploy.index_prefix, variant, side, key) for side in (QUERY_MODEL, DOC_MODEL))
    models.query_model_id = register(client, QUERY_MODEL, package, query_name, group, deploy.model_version)
    save()  # recorded before deploying: a failed deploy is still cleaned up
    deploy_replacing_older_versions(client, query_name, models.query_model_id, deploy.deploy_timeout_s)
    models.doc_model_id = register(client, DOC_MODEL, package, doc_name, group, deploy.model_version)
    save()
    if deploy.ingest in ("auto", "pipeline") and deployment.ingest != "client":
        try:
            deploy_replacing_older_versions(client, doc_name, models.doc_model_id, deploy.deploy_timeout_s)
            deployment.ingest = "pipeline"
        except ClusterUnreachable:
            raise  # a dead or unreachable node is not ML Commons refusing the model
        except OpenSearchError as err:
            if deploy.ingest == "pipeline":
                raise
            log.warning("ML Commons could not deploy the ONNX document model (%s); encoding documents client-side", err)
    if deployment.ingest != "pipeline":
        deployment.ingest = "client"
    save()
    if deployment.ingest == "pipeline":
        fitted = "" if key == AS_SHIPPED else f"-{key}"
        models.ingest_pipeline = f"{deploy.index_prefix}-{variant}{fitted}-ingest"
        os_index.put_ingest_pipeline(
            client,
            models.ingest_pipeline,
            os_index.load_body("sparse_encoding_ingest_pipeline", model_id=models.doc_model_id),
        )
        save()


def cleanup(client: OpenSearch, deployment: Deployment) -> None:
    """Undo what deploy created for one variant: indices, ingest pipelines and every corpus's models.

    Works on an incomplete record too (deploy failed half-way): parts never created
    are None or absent, and parts already gone are fine.
    """
    for index_name in set(deployment.indices.values()):
        os_index.delete_index(client, index_name)
    for models in deployment.corpora.values():
        if models.ingest_pipeline:
            os_index.delete_ingest_pipeline(client, models.ingest_pipeline)
    for model_id in {m for models in deployment.corpora.values() for m in (models.doc_model_id, models.query_model_id)}:
        if model_id:
            ml.delete_model(client, model_id, missing_ok=True)
