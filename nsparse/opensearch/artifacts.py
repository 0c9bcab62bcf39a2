"""Fetching Maven artifacts by coordinates, with or without a Maven installation.

Everything the node needs (the distribution, its modules and plugins) is a Maven
Central artifact. Where `mvn` is installed it resolves them into the ordinary
`~/.m2` cache (honouring the user's settings.xml mirrors); elsewhere the same file
is fetched over HTTPS from a repository URL derived from the coordinates, checked
against the repository's SHA-1, and cached under the nsparse home.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from nsparse.io import atomic_open

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


class ArtifactNotFound(RuntimeError):
    """The repository does not serve the artifact (it may exist at other versions)."""


@dataclass(frozen=True)
class Coordinate:
    """`group:artifact:version[:packaging[:classifier]]`, as Maven writes it."""

    group: str
    artifact: str
    version: str
    packaging: str = "jar"
    classifier: str = ""

    @classmethod
    def parse(cls, text: str) -> Coordinate:
        parts = text.split(":")
        if not 3 <= len(parts) <= 5 or not all(parts):
            raise ValueError(f"not a Maven coordinate (group:artifact:version[:packaging[:classifier]]): {text!r}")
        return cls(*parts)

    @property
    def file_name(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.{self.packaging}"

    @property
    def repository_path(self) -> str:
        """Path of the file inside a Maven repository (same layout in ~/.m2 and on Central)."""
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.file_name}"

    def with_packaging(self, packaging: str) -> Coordinate:
        return Coordinate(self.group, self.artifact, self.version, packaging)

    def __str__(self) -> str:
        return ":".join(p for p in (self.group, self.artifact, self.version, self.packaging, self.classifier) if p)


class ArtifactFetcher:
    """Resolves coordinates to local files, through `mvn` or plain HTTPS."""

    def __init__(self, use_maven: bool, repository_url: str, download_dir: Path) -> None:
        self.use_maven = use_maven
        self.repository_url = repository_url.rstrip("/")
        self.download_dir = download_dir

    @classmethod
    def create(cls, mode: str, repository_url: str, download_dir: Path) -> ArtifactFetcher:
        """`mode` is `maven`, `https`, or `auto` (Maven when `mvn` is on PATH)."""
        if mode not in {"auto", "maven", "https"}:
            raise ValueError(f"opensearch.fetch must be auto, maven or https, not {mode!r}")
        use_maven = mode == "maven" or (mode == "auto" and shutil.which("mvn") is not None)
        if use_maven and shutil.which("mvn") is None:
            raise FileNotFoundError("opensearch.fetch is 'maven' but no `mvn` is on PATH; use 'https' or install Maven")
        return cls(use_maven, repository_url, download_dir)

    def fetch(self, coordinate: Coordinate) -> Path:
        """Local path of the artifact; raises ArtifactNotFound when the repository lacks it."""
        return self._fetch_with_maven(coordinate) if self.use_maven else self._fetch_over_https(coordinate)

    def runtime_jars(self, coordinate: Coordinate, provided: set[str]) -> list[Coordinate]:
        """The artifact and the jars it needs at run time, minus those whose file names are in `provided`.

        Only OpenSearch-published POMs are followed further: Gradle writes them with
        explicit versions and marks their third-party dependencies `exclude *`, so the
        third-party jars they list are complete leaves. Test, provided and optional
        dependencies are left out.
        """
        jars: dict[str, Coordinate] = {}
        pending = [coordinate]
        while pending:
            current = pending.pop()
            if current.file_name in provided or current.file_name in jars:
                continue
            jars[current.file_name] = current
            if current.group.startswith("org.opensearch"):
                pending.extend(self._pom_dependencies(current))
        return list(jars.values())

    def _pom_dependencies(self, coordinate: Coordinate) -> list[Coordinate]:
        pom_path = self.fetch(coordinate.with_packaging("pom"))
        dependencies = []
        for node in ET.parse(pom_path).getroot().iterfind("m:dependencies/m:dependency", _POM_NS):
            group, artifact, version = (
                node.findtext(f"m:{tag}", "", _POM_NS) for tag in ("groupId", "artifactId", "version")
            )
            scope = node.findtext("m:scope", "compile", _POM_NS)
            if scope not in {"compile", "runtime"} or node.findtext("m:optional", "false", _POM_NS) == "true":
                continue
            if not version or "${" in version:
                raise ValueError(f"{pom_path}: dependency {group}:{artifact} has no literal version")
            dependencies.append(Coordinate(group, artifact, version))
        return dependencies

    def _fetch_with_maven(self, coordinate: Coordinate) -> Path:
        local = Path.home() / ".m2" / "repository" / coordinate.repository_path
        if local.exists():
            return local  # already resolved: skip a JVM start per artifact
        command = ["mvn", "-q", "-B", "dependency:get", "-Dtransitive=false", f"-Dartifact={coordinate}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not local.exists():
            reason = _maven_error_line(result.stdout + result.stderr)
            raise ArtifactNotFound(f"{coordinate}: not served by the configured Maven repositories ({reason})")
        return local

    def _fetch_over_https(self, coordinate: Coordinate) -> Path:
        local = self.download_dir / coordinate.repository_path
        if local.exists():
            return local
        url = f"{self.repository_url}/{coordinate.repository_path}"
        published_sha1 = requests.get(f"{url}.sha1", timeout=60)  # some mirrors omit checksums: verify when given
        expected_sha1 = published_sha1.text.split()[0].strip() if published_sha1.ok else None
        try:
            download(url, local, expected_sha1=expected_sha1)
        except requests.HTTPError as err:
            if err.response is not None and err.response.status_code == 404:
                raise ArtifactNotFound(f"{coordinate}: {url} answered 404") from None
            raise
        return local


def download(url: str, target: Path, expected_sha1: str | None = None) -> None:
    """Stream `url` into `target` atomically with a progress bar, checking the SHA-1 when one is given."""
    digest = hashlib.sha1()
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length", 0)) or None
        with atomic_open(target, "wb") as handle, tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
            for chunk in response.iter_content(chunk_size=1 << 20):
                handle.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            if expected_sha1 is not None and digest.hexdigest() != expected_sha1:
                raise OSError(f"{url}: SHA-1 mismatch after download (corrupted transfer or mirror)")


def _maven_error_line(output: str) -> str:
    """The first line of Maven's output that says what went wrong."""
    for line in output.splitlines():
        if "ERROR" in line and ("Could not" in line or "Failed" in line or "not found" in line):
            return line.replace("[ERROR]", "").strip()
    return "mvn dependency:get failed"
