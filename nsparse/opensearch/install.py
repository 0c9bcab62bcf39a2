"""Building a local node on disk: distribution, modules, plugins and config, from Maven artifacts.

`nsparse node up` needs an OpenSearch that no package manager provides: the
integ-test distribution plus the modules and plugins listed in
`opensearch/node/components.yaml` (one of them compiled here with the node's JDK),
unpacked under a cache directory outside the repository. This module does that
once per version and knows where everything lies; starting and stopping the
process is `nsparse.opensearch.node`'s job.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import string
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from nsparse.io import atomic_open, write_text
from nsparse.opensearch.artifacts import ArtifactFetcher, ArtifactNotFound, Coordinate, download
from nsparse.opensearch.djl import node_environment, seed_djl_cache
from nsparse.opensearch.resources import assets_dir
from nsparse.opensearch.settings import major_version
from nsparse.params import OpenSearchSection

ASSETS = assets_dir()
COMPONENTS_FILE = ASSETS / "node" / "components.yaml"


class NodeError(RuntimeError):
    """The node could not be installed, started or stopped; the message says why and what to do."""


def nsparse_home() -> Path:
    """Cache root for installed nodes: $NSPARSE_HOME, else a directory the service user can traverse."""
    if "NSPARSE_HOME" in os.environ:
        return Path(os.environ["NSPARSE_HOME"])
    return Path("/var/cache/nsparse") if os.geteuid() == 0 else Path.home() / ".cache" / "nsparse"


@dataclass(frozen=True)
class NodeMember:
    """One node of the local cluster: its name, ports and the directories only it uses."""

    index: int
    name: str
    http_port: int
    transport_port: int
    config: Path  # OPENSEARCH_PATH_CONF
    data: Path
    logs: Path
    pid_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def server_log(self) -> Path:
        return self.logs / "nsparse.log"

    @property
    def stdout_log(self) -> Path:
        return self.logs / "stdout.log"


@dataclass(frozen=True)
class NodeLayout:
    """Where one version's node (or each node of a local cluster) lives on disk."""

    root: Path
    version: str

    @property
    def distribution(self) -> Path:
        return self.root / f"opensearch-{self.version}"

    @property
    def installed_marker(self) -> Path:
        return self.distribution / ".nsparse-installed"

    @property
    def data(self) -> Path:
        """The single node's data, and where the install seeds the DJL cache every node copies."""
        return self.root / "data"

    def members(self, size: int, port: int) -> list[NodeMember]:
        """The nodes of a local cluster of `size` nodes whose first node answers on `port`.

        A single node keeps the layout it always had (the distribution's config, `data/`,
        `logs/`, `opensearch.pid` under the version's root). A cluster of N nodes lives in
        `cluster-N/node-<i>/`, apart from the single node's data: a node bootstrapped as a
        single-node cluster cannot join another, and the cluster sizes never share state.
        """
        if size == 1:
            return [
                NodeMember(
                    index=0,
                    name="nsparse-node",
                    http_port=port,
                    transport_port=port + 100,
                    config=self.distribution / "config",
                    data=self.data,
                    logs=self.root / "logs",
                    pid_file=self.root / "opensearch.pid",
                )
            ]
        homes = [self.root / f"cluster-{size}" / f"node-{i}" for i in range(size)]
        return [
            NodeMember(
                index=i,
                name=f"nsparse-node-{i}",
                http_port=port + i,
                transport_port=port + 100 + i,
                config=home / "config",
                data=home / "data",
                logs=home / "logs",
                pid_file=home / "opensearch.pid",
            )
            for i, home in enumerate(homes)
        ]

    def cluster_sizes_on_disk(self) -> list[int]:
        """The sizes of every local cluster that has been set up under this root (1: the single node)."""
        clusters = (path.name.removeprefix("cluster-") for path in self.root.glob("cluster-*"))
        return [1, *sorted(int(size) for size in clusters if size.isdigit())]


def node_config(member: NodeMember, members: list[NodeMember], bootstrapped: bool) -> str:
    """`opensearch/node/opensearch.yml` filled in for one member of the local cluster.

    One node is `discovery.type: single-node`, as it always was. Several nodes find each
    other through their transport ports; until a node has joined a cluster once
    (`bootstrapped`: its data holds cluster state) it also names every node as an initial
    cluster manager, which OpenSearch needs exactly once, to form the cluster.
    """
    if len(members) == 1:
        discovery = "discovery.type: single-node"
    else:
        seed_hosts = ", ".join(f'"127.0.0.1:{node.transport_port}"' for node in members)
        discovery = f"discovery.seed_hosts: [{seed_hosts}]"
        if not bootstrapped:
            managers = ", ".join(f'"{node.name}"' for node in members)
            discovery += f"\ncluster.initial_cluster_manager_nodes: [{managers}]"
    template = string.Template((ASSETS / "node" / "opensearch.yml").read_text())
    return template.substitute(
        node_name=member.name,
        discovery=discovery,
        http_port=member.http_port,
        transport_port=member.transport_port,
        data_dir=member.data,
        logs_dir=member.logs,
    )


class Installer:
    """One version's node on disk under `home`: install and configure it; say which JDK and environment it needs."""

    def __init__(self, settings: OpenSearchSection, home: Path) -> None:
        self.settings = settings
        self.home = home
        self.layout = NodeLayout(self.home / "opensearch" / self.settings.version, self.settings.version)

    def installed(self) -> bool:
        """True when the install is complete and was made from the current components.yaml."""
        marker = self.layout.installed_marker
        return marker.exists() and marker.read_text() == _components_fingerprint()

    def install(self) -> None:
        """Add whatever is missing: distribution, modules, plugins; mark the install complete last.

        Each step skips what is already there, so an interrupted install or an edited
        components.yaml only fetches and installs the difference.
        """
        fetcher = ArtifactFetcher.create(self.settings.fetch, self.settings.maven_repository, self.home / "downloads")
        components = yaml.safe_load(COMPONENTS_FILE.read_text())
        if not (self.layout.distribution / "bin" / "opensearch").exists():
            self._unpack_distribution(fetcher)
        for module in tqdm(components["modules"], desc="modules", unit="module"):
            self._install_module(fetcher, module)
        for plugin in tqdm(components["plugins"], desc="plugins", unit="plugin"):
            self._install_plugin(fetcher, plugin)
        seed_djl_cache(
            fetcher, self.ml_plugin_dir, self.layout.data / "ml_cache", components["djl"]["jni_fallback_releases"]
        )
        write_text(self.layout.installed_marker, _components_fingerprint())

    @property
    def ml_plugin_dir(self) -> Path:
        return self.layout.distribution / "plugins" / "opensearch-ml"

    def _unpack_distribution(self, fetcher: ArtifactFetcher) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        if self.settings.distribution_url:
            archive = self.home / "downloads" / Path(self.settings.distribution_url).name
            if not archive.exists():
                download(self.settings.distribution_url, archive)
        else:
            archive = fetcher.fetch(
                Coordinate("org.opensearch.distribution.integ-test-zip", "opensearch", self.settings.version, "zip")
            )
        staging = self.layout.root / ".unpacking"
        shutil.rmtree(staging, ignore_errors=True)
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(staging)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(staging, filter="tar")
        unpacked = staging / self.layout.distribution.name
        if not (unpacked / "bin" / "opensearch").exists():
            raise NodeError(
                f"{archive}: did not unpack into {unpacked.name}/ (is it OpenSearch {self.settings.version}?)"
            )
        for script in (unpacked / "bin").iterdir():
            script.chmod(0o755)  # zip extraction drops the executable bit
        shutil.rmtree(self.layout.distribution, ignore_errors=True)
        unpacked.rename(self.layout.distribution)
        staging.rmdir()

    def _install_module(self, fetcher: ArtifactFetcher, module: dict[str, Any]) -> None:
        target = self.layout.distribution / "modules" / module["name"]
        if target.exists():
            return
        coordinate = Coordinate.parse(module["artifact"].format(version=self.settings.version))
        staging = target.with_name(f".{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        provided = {jar.name for jar in (self.layout.distribution / "lib").glob("*.jar")}
        for jar in fetcher.runtime_jars(coordinate, provided):
            shutil.copy2(fetcher.fetch(jar), staging / jar.file_name)
        extra_files = ASSETS / "node" / "modules" / module["name"]
        if extra_files.is_dir():
            shutil.copytree(extra_files, staging, dirs_exist_ok=True)
        descriptor = {
            "description": f"{module['name']} module, added by nsparse from {coordinate}",
            "version": self.settings.version,
            "name": module["name"],
            "classname": module["classname"],
            "java.version": self.plugin_java_release,
            "opensearch.version": self.settings.version,
            "extended.plugins": ",".join(module.get("extended_plugins", [])),
            "has.native.controller": "false",
        }
        write_text(
            staging / "plugin-descriptor.properties", "".join(f"{key}={value}\n" for key, value in descriptor.items())
        )
        staging.rename(target)

    def _install_plugin(self, fetcher: ArtifactFetcher, plugin: dict[str, Any]) -> None:
        if (self.layout.distribution / "plugins" / plugin["name"]).exists():
            return
        coordinate = Coordinate.parse(plugin["artifact"].format(version=self.settings.version))
        try:
            archive = fetcher.fetch(coordinate)
        except ArtifactNotFound:
            if "build" not in plugin:
                raise
            archive = self._build_plugin(fetcher, plugin["name"], plugin["build"])
        self._run_tool("opensearch-plugin", "install", "--batch", archive.resolve().as_uri())

    def _build_plugin(self, fetcher: ArtifactFetcher, name: str, build: dict[str, str]) -> Path:
        """Compile a plugin's Java sources (opensearch/<source>/src) against this node and zip it (cached).

        Only the node's JDK is needed, no Maven: the class path is the distribution's
        lib/ plus the bundled jar, which is fetched like any other artifact.
        """
        version = self.settings.version
        build_dir = self.home / "build" / f"{build['source']}-{version}"
        archive = build_dir / f"{name}-{version}.zip"
        if archive.exists():
            return archive
        lib_jars = sorted((self.layout.distribution / "lib").glob("*.jar"))
        lucene_version = next(jar for jar in lib_jars if jar.name.startswith("lucene-core-")).stem.removeprefix(
            "lucene-core-"
        )
        bundled = fetcher.fetch(Coordinate.parse(build["bundle"].format(lucene_version=lucene_version)))
        source_dir = ASSETS / build["source"]
        classes = build_dir / "classes"
        shutil.rmtree(classes, ignore_errors=True)
        javac = [
            str(self.java_home() / "bin" / "javac"),
            "--release",
            self.plugin_java_release,
            "-encoding",
            "UTF-8",
            "-d",
            str(classes),
            "-cp",
            ":".join(str(jar) for jar in [*lib_jars, bundled]),
            *(str(path) for path in sorted((source_dir / "src").rglob("*.java"))),
        ]
        result = subprocess.run(javac, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise NodeError(f"compiling {source_dir} for OpenSearch {version} failed:\n{result.stdout}{result.stderr}")
        descriptor = string.Template((source_dir / "plugin-descriptor.properties").read_text())
        with atomic_open(archive, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr(
                "plugin-descriptor.properties",
                descriptor.substitute(version=version, java_release=self.plugin_java_release),
            )
            bundle.write(bundled, bundled.name)
            with zipfile.ZipFile(bundle.open(f"{name}-{version}.jar", "w"), "w", zipfile.ZIP_DEFLATED) as jar:
                for class_file in sorted(classes.rglob("*.class")):
                    jar.write(class_file, class_file.relative_to(classes).as_posix())
        return archive

    @property
    def plugin_java_release(self) -> str:
        """Java level of the node's plugin API: 11 for OpenSearch 2.x, 21 for 3.x."""
        return "11" if major_version(self.settings) < 3 else "21"

    def write_config(self, member: NodeMember, members: list[NodeMember]) -> None:
        """One node's settings and heap, rewritten on every start so params.yaml changes take effect.

        A member of a cluster gets its own config directory: a copy of the distribution's
        (logging, keystore, JVM options), with the JVM's relative log and heap-dump paths
        pointed at its own directories so that the nodes do not rotate each other's GC logs.
        """
        if member.config != self.layout.distribution / "config":
            shutil.copytree(self.layout.distribution / "config", member.config, dirs_exist_ok=True)
            jvm_options = (self.layout.distribution / "config" / "jvm.options").read_text()
            write_text(
                member.config / "jvm.options",
                jvm_options.replace("=logs/", f"={member.logs}/").replace(
                    "HeapDumpPath=data", f"HeapDumpPath={member.data}"
                ),
            )
        bootstrapped = (member.data / "nodes").exists()
        write_text(member.config / "opensearch.yml", node_config(member, members, bootstrapped))
        write_text(
            member.config / "jvm.options.d" / "nsparse.options", f"-Xms{self.settings.heap}\n-Xmx{self.settings.heap}\n"
        )

    def seed_member_djl_cache(self, member: NodeMember) -> None:
        """Hard-link the DJL libraries the install seeded into a cluster member's own DJL cache (no copy on disk)."""
        seeded = self.layout.data / "ml_cache" / "pytorch"
        if member.data == self.layout.data or not seeded.is_dir():
            return
        for library in seeded.rglob("*"):
            target = member.data / "ml_cache" / "pytorch" / library.relative_to(seeded)
            if library.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(library, target)

    def node_environment(self) -> dict[str, str]:
        """The environment to start the node in: the JDK, plus what DJL needs to find its offline libraries."""
        return {**self._java_env(), **node_environment(self.ml_plugin_dir)}

    def _run_tool(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.layout.distribution / "bin" / tool), *args],
            capture_output=True,
            text=True,
            env=self._java_env(),
            check=False,
        )
        if result.returncode != 0:
            raise NodeError(f"{tool} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    def _java_env(self) -> dict[str, str]:
        java_home = str(self.java_home())
        return {**os.environ, "JAVA_HOME": java_home, "OPENSEARCH_JAVA_HOME": java_home}

    def java_home(self) -> Path:
        """The configured JDK, else the default `java` for 2.x and the newest JDK 21+ under /usr/lib/jvm for 3.x."""
        if self.settings.java_home != "auto":
            return Path(self.settings.java_home)
        if major_version(self.settings) >= 3:
            candidates = sorted(Path("/usr/lib/jvm").glob("*"), key=_jdk_feature_version, reverse=True)
            newest = next((jdk for jdk in candidates if _jdk_feature_version(jdk) >= 21), None)
            if newest is None:
                raise NodeError(f"OpenSearch {self.settings.version} needs JDK 21+; set opensearch.java_home")
            return newest
        java = shutil.which("java")
        if java is None:
            raise NodeError("no `java` on PATH; install JDK 17 or set opensearch.java_home")
        return Path(java).resolve().parents[1]


def _jdk_feature_version(jdk: Path) -> int:
    """17 for /usr/lib/jvm/java-17-openjdk-amd64, 25 for temurin-25-jdk-amd64, 0 when unknown."""
    release = jdk / "release"
    if not release.exists():
        return 0
    for line in release.read_text().splitlines():
        if line.startswith("JAVA_VERSION="):
            return int(line.split("=", 1)[1].strip('"').split(".")[0])
    return 0


def _components_fingerprint() -> str:
    return hashlib.sha256(COMPONENTS_FILE.read_bytes()).hexdigest()
