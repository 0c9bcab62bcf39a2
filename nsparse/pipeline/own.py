"""Your own documents in deploy and benchmark: the `data/own` benchmark and the index name you chose.

`synthesize` writes `data/own` (`nsparse.data.own`, `nsparse.pipeline.synthesize`); deploy indexes it like any
benchmark corpus (one index per variant and corpus fingerprint) and points the alias you
chose (`deploy.own_index`) at it, so your applications search a stable name while a
redeploy swaps the index behind it; benchmark scores it and labels judged or synthetic.
"""

from __future__ import annotations

from pathlib import Path

from opensearchpy import OpenSearch

from nsparse.data import Benchmark, load_benchmark
from nsparse.data.own import SPLIT, own_benchmark
from nsparse.opensearch.client import refused_as
from nsparse.params import Deploy
from nsparse.pipeline.deploy import Deployment


def own_benchmark_folders(folder: Path) -> dict[str, Path]:
    """{benchmark name: folder} for deploy: empty when no own corpus was configured."""
    found = own_benchmark(folder)
    return {found[0]: found[1]} if found else {}


def own_benchmarks(folder: Path) -> tuple[dict[str, Benchmark], dict[str, str]]:
    """({name: Benchmark}, {name: label}) for the benchmark stage; both empty without an own corpus."""
    found = own_benchmark(folder)
    if not found:
        return {}, {}
    name, path, label = found
    return {name: load_benchmark(path, SPLIT)}, {name: label}


def alias_names(deploy: Deploy, variant: str, variants: list[str]) -> list[str]:
    """`<own_index>-<variant>`, plus the bare `<own_index>` for the last (recommended) variant; `own_index` null:
    `<index_prefix>-own`."""
    base = deploy.own_index or f"{deploy.index_prefix}-own"
    return [f"{base}-{variant}", *([base] if variant == variants[-1] else [])]


def point_alias(client: OpenSearch, alias: str, index: str) -> None:
    """Make `alias` name `index` alone, in one atomic step (searches never see it missing or doubled)."""
    with refused_as(f"reading alias {alias}"):
        current = client.indices.get_alias(name=alias) if client.indices.exists_alias(name=alias) else {}
    holders = [name for name in current if name != index]
    actions = [{"remove": {"index": holder, "alias": alias}} for holder in holders]
    actions.append({"add": {"index": index, "alias": alias}})
    with refused_as(f"pointing alias {alias} at {index}"):
        client.indices.update_aliases(body={"actions": actions})


def point_own_aliases(
    client: OpenSearch, record: Path, own_folder: Path, deploy: Deploy, variants: list[str]
) -> list[str]:
    """After deploy: the aliases you chose, pointed at this variant's index of your documents (none without them)."""
    found = own_benchmark(own_folder)
    if not found:
        return []
    deployment = Deployment.load(record)
    index = deployment.indices[found[0]]
    aliases = alias_names(deploy, deployment.variant, variants)
    for alias in aliases:
        point_alias(client, alias, index)
    return aliases
