"""Offline PyTorch native libraries for ML Commons' DJL, from Maven Central.

ML Commons runs models through DJL, and DJL's ONNX Runtime engine borrows the
PyTorch engine for array operations, so even an ONNX model needs libtorch. DJL
downloads it from publish.djl.ai on first use, which fails on an offline node.
Maven Central serves the same libraries (`ai.djl.pytorch:pytorch-native-cpu` and
`ai.djl.pytorch:pytorch-jni`), so the launcher unpacks them where DJL looks first:

    <path.data>/ml_cache/pytorch/<torch>-cpu-precxx11-linux-x86_64/   libtorch.so, ...
                                       .../<djl>-libdjl_torch.so        the JNI bridge

ML Commons sets DJL_CACHE_DIR to <path.data>/ml_cache and PYTORCH_PRECXX11=true
(hence the directory name; the standard C++11-ABI build loads fine on any current
glibc), and it asks for PyTorch 1.13.1 through the PYTORCH_VERSION system property,
for which no JNI bridge matching DJL 0.31 is published. DJL reads the environment
variable of that name first, so the node is started with PYTORCH_VERSION set to the
version DJL was built for (`node_environment`).
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nsparse.opensearch.artifacts import ArtifactFetcher, ArtifactNotFound, Coordinate

log = logging.getLogger(__name__)
PLATFORM = "linux-x86_64"


@dataclass(frozen=True)
class DjlRuntime:
    """The DJL and PyTorch versions an ML Commons plugin was built with."""

    djl_version: str
    torch_version: str

    @classmethod
    def of_plugin(cls, ml_plugin_dir: Path) -> DjlRuntime | None:
        """Read them from the plugin's pytorch-engine jar; None when the plugin has none."""
        engine_jar = next(ml_plugin_dir.glob("pytorch-engine-*.jar"), None)
        if engine_jar is None:
            return None
        with zipfile.ZipFile(engine_jar) as jar:
            lines = jar.read("pytorch-engine.properties").decode().splitlines()
        properties = dict(line.split("=", 1) for line in lines if "=" in line)
        return cls(properties["djl_version"], properties["pytorch_version"])

    def cache_dir(self, ml_cache: Path) -> Path:
        return ml_cache / "pytorch" / f"{self.torch_version}-cpu-precxx11-{PLATFORM}"

    @property
    def jni_file_name(self) -> str:
        return f"{self.djl_version}-libdjl_torch.so"


def node_environment(ml_plugin_dir: Path) -> dict[str, str]:
    """Environment for the node so that DJL loads the seeded PyTorch instead of downloading 1.13.1."""
    runtime = DjlRuntime.of_plugin(ml_plugin_dir)
    return {"PYTORCH_VERSION": runtime.torch_version} if runtime else {}


def seed_djl_cache(
    fetcher: ArtifactFetcher, ml_plugin_dir: Path, ml_cache: Path, jni_fallback_releases: list[str]
) -> bool:
    """Unpack libtorch and the JNI bridge into the node's DJL cache; False when Maven lacks them.

    The JNI bridge is published per DJL release; when the plugin's own release is not
    served, the bridge of a later release for the same PyTorch is used (`jni_fallback_releases`):
    later bridges keep every native method earlier DJL releases call.
    """
    runtime = DjlRuntime.of_plugin(ml_plugin_dir)
    if runtime is None:
        return False
    target = runtime.cache_dir(ml_cache)
    if (target / "libtorch.so").exists() and (target / runtime.jni_file_name).exists():
        return True
    try:
        native = fetcher.fetch(
            Coordinate("ai.djl.pytorch", "pytorch-native-cpu", runtime.torch_version, "jar", PLATFORM)
        )
        jni = _fetch_jni(fetcher, runtime, jni_fallback_releases)
    except ArtifactNotFound as err:
        log.warning("ONNX models will not deploy offline: %s", err)
        return False
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(native) as jar:
        for entry in jar.namelist():
            if entry.startswith(f"pytorch/cpu/{PLATFORM}/") and not entry.endswith("/"):
                (staging / Path(entry).name).write_bytes(jar.read(entry))
    with zipfile.ZipFile(jni) as jar:
        (staging / runtime.jni_file_name).write_bytes(jar.read(f"jnilib/{PLATFORM}/cpu/libdjl_torch.so"))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return True


def _fetch_jni(fetcher: ArtifactFetcher, runtime: DjlRuntime, fallback_releases: list[str]) -> Path:
    tried = []
    for release in [runtime.djl_version, *fallback_releases]:
        coordinate = Coordinate("ai.djl.pytorch", "pytorch-jni", f"{runtime.torch_version}-{release}")
        try:
            return fetcher.fetch(coordinate)
        except ArtifactNotFound:
            tried.append(str(coordinate))
    raise ArtifactNotFound(f"no PyTorch JNI bridge for DJL {runtime.djl_version} is served (tried {', '.join(tried)})")
