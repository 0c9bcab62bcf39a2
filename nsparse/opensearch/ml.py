"""The ML Commons model registry: model groups, chunked model upload, deploy, predict.

A model zip is registered by chunked upload (`_register_meta`, then one
`upload_chunk` call per chunk) with its SHA-256 as the content hash, so that
registering the same content under the same name again reuses the existing model,
and a failed upload is deleted rather than left half-registered.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from opensearchpy import OpenSearch
from tqdm import tqdm

from nsparse.io import sha256_file
from nsparse.opensearch.client import OpenSearchError, refused_as

log = logging.getLogger(__name__)
T = TypeVar("T")

ML_API = "/_plugins/_ml"
# ML Commons' SparseEncodingTranslator names its input tensors so, and DJL's ONNX
# Runtime engine feeds named tensors by name: a SPARSE_ENCODING model in ONNX format
# must use exactly these graph input names (int64, [batch, sequence]).
ONNX_INPUT_NAMES = ("input1.input_ids", "input1.attention_mask")
_PREDICT_ACTION = {"SPARSE_ENCODING": "sparse_encoding", "SPARSE_TOKENIZE": "sparse_tokenize"}
_UNUSABLE_STATES = {"REGISTERING", "REGISTER_FAILED"}
# How ML Commons fails a deploy task that met another deploy of the same model.
CONCURRENT_DEPLOY = ("Duplicate deploy model task", "version conflict")
SYNC_UP_WAIT_S = 30  # three of ML Commons' sync-up intervals (plugins.ml_commons.sync_up_job_interval_in_seconds)


def _request(
    client: OpenSearch, method: str, path: str, action: str, body: Any = None, **params: Any
) -> dict[str, Any]:
    with refused_as(action):
        return client.transport.perform_request(method, f"{ML_API}{path}", body=body, params=params or None)


def ensure_model_group(client: OpenSearch, name: str, description: str) -> str:
    """Id of the model group called `name`, registering it when it does not exist yet."""
    found = _request(
        client,
        "POST",
        "/model_groups/_search",
        f"looking up model group {name}",
        body={"query": {"term": {"name.keyword": name}}, "size": 1},
    )
    hits = found["hits"]["hits"]
    if hits:
        return hits[0]["_id"]
    created = _request(
        client,
        "POST",
        "/model_groups/_register",
        f"registering model group {name}",
        body={"name": name, "description": description},
    )
    return created["model_group_id"]


def find_models(client: OpenSearch, name: str) -> list[dict[str, Any]]:
    """Registered models called `name` (their metadata, with `model_id` added), newest first."""
    query = {"bool": {"must": [{"term": {"name.keyword": name}}], "must_not": [{"exists": {"field": "chunk_number"}}]}}
    found = _request(
        client,
        "POST",
        "/models/_search",
        f"looking up models named {name}",
        body={"query": query, "size": 100, "sort": [{"created_time": "desc"}]},
    )
    return [{**hit["_source"], "model_id": hit["_id"]} for hit in found["hits"]["hits"]]


def register_model_zip(
    client: OpenSearch,
    zip_path: str | Path,
    *,
    name: str,
    version: str,
    function_name: str,
    model_format: str,
    model_group_id: str,
    description: str,
    model_config: dict[str, Any] | None = None,
    chunk_size: int = 10_000_000,
) -> str:
    """Register a model zip by chunked upload and return its model id.

    If a model with this name and the zip's SHA-256 is already fully registered,
    its id is returned and nothing is uploaded. An earlier upload of the same
    content that never completed is deleted first; an upload that fails now is
    deleted before the error propagates.
    """
    zip_path = Path(zip_path)
    content_hash = sha256_file(zip_path)
    for model in find_models(client, name):
        if model.get("model_content_hash_value") == content_hash:
            if (
                get_model(client, model["model_id"]).get("model_state") not in _UNUSABLE_STATES
            ):  # search lags; GET does not
                return model["model_id"]
            delete_model(client, model["model_id"])
    size = zip_path.stat().st_size
    total_chunks = max(1, math.ceil(size / chunk_size))
    meta = {
        "name": name,
        "version": version,
        "description": description,
        "function_name": function_name,
        "model_format": model_format,
        "model_group_id": model_group_id,
        "model_content_hash_value": content_hash,
        "model_content_size_in_bytes": size,
        "total_chunks": total_chunks,
    }
    if model_config is not None:
        meta["model_config"] = model_config
    model_id = _request(client, "POST", "/models/_register_meta", f"registering model {name} ({zip_path})", body=meta)[
        "model_id"
    ]
    try:
        with zip_path.open("rb") as handle:
            for chunk_number in tqdm(range(total_chunks), desc=f"uploading {zip_path.name}", unit="chunk"):
                _request(
                    client,
                    "POST",
                    f"/models/{model_id}/upload_chunk/{chunk_number}",
                    f"uploading chunk {chunk_number + 1}/{total_chunks} of {zip_path}",
                    body=handle.read(chunk_size),
                )
    except BaseException:
        delete_model(client, model_id)
        raise
    _wait_until_searchable(client, name, model_id)
    return model_id


def _poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout_s: float, interval_s: float) -> T:
    """`fetch()` every `interval_s` until `done` holds of its answer or `timeout_s` has passed: the last answer.

    Always asks at least once, and once more at the deadline, so a spent `timeout_s` still gets a look.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = fetch()
        if done(answer) or time.monotonic() >= deadline:
            return answer
        time.sleep(interval_s)


def _wait_until_searchable(client: OpenSearch, name: str, model_id: str, timeout_s: float = 10) -> None:
    """Model search is near-real-time: wait until a new model is visible, so that registering again reuses it."""
    _poll(
        lambda: find_models(client, name),
        lambda models: any(model["model_id"] == model_id for model in models),
        timeout_s,
        interval_s=0.2,
    )


def _wait_for_task(client: OpenSearch, task_id: str, action: str, timeout_s: float) -> dict[str, Any]:
    """The task once COMPLETED; raises with its error if it failed."""
    task = _wait_until_finished(client, task_id, action, timeout_s)
    if task.get("state") != "COMPLETED":
        raise OpenSearchError(f"{action}: task {task_id} failed: {task.get('error', 'no error message')}")
    return task


def _wait_until_finished(client: OpenSearch, task_id: str, action: str, timeout_s: float) -> dict[str, Any]:
    """The task once it has finished, whether it succeeded or not."""
    task = _poll(lambda: _request(client, "GET", f"/tasks/{task_id}", action), _finished, timeout_s, interval_s=1)
    if not _finished(task):
        raise OpenSearchError(f"{action}: task {task_id} did not finish within {timeout_s:.0f}s")
    return task


def _finished(task: dict[str, Any]) -> bool:
    return task.get("state") in {"COMPLETED", "FAILED", "COMPLETED_WITH_ERROR"}


def deploy_model(client: OpenSearch, model_id: str, timeout_s: float) -> None:
    """Deploy (load) a registered model on the cluster's ML nodes; raises with the task's error.

    ML Commons fails a deploy task that meets another deploy of the same model: on each
    node where one is still running ("Duplicate deploy model task": its own auto-redeploy
    after a cluster restart, or another client), or when both update the model's record at
    once ("version conflict"). That is not a refusal: wait for the running deploys, and
    deploy again unless they left the model DEPLOYED, all within `timeout_s`.

    A completed task can also leave the model's record PARTIALLY_DEPLOYED, on fewer nodes
    than planned (seen on a three-node cluster just after a node rejoined): ML Commons' sync-up
    job corrects the record within its interval (10 s by default) when the nodes hold the
    model, so wait for that first, then deploy again, which loads it where it is missing.
    Still partial when the time is up, the model serves from the nodes it is on: a warning,
    not an error.
    """
    action = f"deploying model {model_id}"
    deadline = time.monotonic() + timeout_s
    while True:
        task = _request(client, "POST", f"/models/{model_id}/_deploy", action)
        try:
            _wait_for_task(client, task["task_id"], action, deadline - time.monotonic())
        except OpenSearchError as err:
            if not any(sign in str(err) for sign in CONCURRENT_DEPLOY) or time.monotonic() >= deadline:
                raise
            log.info("%s: a deploy of it is already running; waiting for that one", action)
            for running in _running_deploy_tasks(client, model_id, action):  # theirs: how they end is not ours
                _wait_until_finished(
                    client, running, f"{action} (the deploy already running)", deadline - time.monotonic()
                )
        model = _settled_model(client, model_id, min(SYNC_UP_WAIT_S, max(deadline - time.monotonic(), 0)))
        state, workers = model.get("model_state"), model.get("current_worker_node_count")
        if state == "DEPLOYED":
            return
        if time.monotonic() >= deadline:
            if state == "PARTIALLY_DEPLOYED":
                log.warning(
                    "%s: on %s of %s nodes after %.0fs",
                    action,
                    workers,
                    model.get("planning_worker_node_count"),
                    timeout_s,
                )
                return
            raise OpenSearchError(f"{action}: not DEPLOYED within {timeout_s:.0f}s (state {state})")
        log.info("%s: %s on %s node(s); deploying again", action, state, workers)


def _settled_model(client: OpenSearch, model_id: str, timeout_s: float) -> dict[str, Any]:
    """The model's record once DEPLOYED, or as it stands after `timeout_s` of ML Commons' sync-up."""
    return _poll(
        lambda: get_model(client, model_id),
        lambda model: model.get("model_state") == "DEPLOYED",
        timeout_s,
        interval_s=1,
    )


def _running_deploy_tasks(client: OpenSearch, model_id: str, action: str) -> list[str]:
    """Ids of the model's deploy tasks that have not finished."""
    found = _request(
        client,
        "POST",
        "/tasks/_search",
        action,
        body={
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"model_id": model_id}},
                        {"term": {"task_type": "DEPLOY_MODEL"}},
                        {"terms": {"state": ["CREATED", "RUNNING"]}},
                    ]
                }
            },
            "size": 100,
        },
    )
    return [hit["_id"] for hit in found["hits"]["hits"]]


def undeploy_model(client: OpenSearch, model_id: str) -> None:
    _request(client, "POST", f"/models/{model_id}/_undeploy", f"undeploying model {model_id}")


def get_model(client: OpenSearch, model_id: str) -> dict[str, Any]:
    return _request(client, "GET", f"/models/{model_id}", f"reading model {model_id}")


def delete_model(client: OpenSearch, model_id: str, missing_ok: bool = False) -> None:
    """Undeploy (if deployed) and delete a model and its uploaded chunks; `missing_ok`: a model already gone is fine."""
    try:
        state = get_model(client, model_id).get("model_state")
    except OpenSearchError as err:
        if missing_ok and err.status_code == 404:
            return
        raise
    if state in {"DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING"}:
        undeploy_model(client, model_id)
    _request(client, "DELETE", f"/models/{model_id}", f"deleting model {model_id}")


def delete_model_group(client: OpenSearch, model_group_id: str, timeout_s: float = 30) -> None:
    """Delete an (emptied) model group.

    ML Commons deletes a model's chunks asynchronously and refuses to delete a group
    while any chunk still names it, so wait for them to go first. On several nodes the
    node that checks may not see the deletions yet when our search does (409 "associated
    model versions"): that refusal is asked again until `timeout_s`.
    """
    action = f"deleting model group {model_group_id}"
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = _request(
            client,
            "POST",
            "/models/_search",
            action,
            body={"query": {"term": {"model_group_id": model_group_id}}, "size": 0},
        )
        out_of_time = time.monotonic() >= deadline
        if remaining["hits"]["total"]["value"] == 0 or out_of_time:  # out of time: the cluster's own refusal
            try:
                _request(client, "DELETE", f"/model_groups/{model_group_id}", action)
                return
            except OpenSearchError as err:
                if out_of_time or err.status_code != 409 or "associated model versions" not in str(err):
                    raise
        time.sleep(0.5)


def predict_sparse(client: OpenSearch, model_id: str, texts: list[str]) -> list[dict[str, float]]:
    """Token weights for each text from a deployed SPARSE_ENCODING or SPARSE_TOKENIZE model."""
    function_name = get_model(client, model_id)["algorithm"]
    if function_name not in _PREDICT_ACTION:
        raise ValueError(f"model {model_id} is a {function_name} model, not a sparse one")
    response = _request(
        client,
        "POST",
        f"/_predict/{_PREDICT_ACTION[function_name]}/{model_id}",
        f"predicting with model {model_id}",
        body={"text_docs": texts},
    )
    return [result["output"][0]["dataAsMap"]["response"][0] for result in response["inference_results"]]
