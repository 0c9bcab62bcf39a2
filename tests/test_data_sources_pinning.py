"""The LibreOffice help .debs are pinned by version and SHA-256, so every machine builds the same benchmarks."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from nsparse.config import load_params
from nsparse.data.sources import LIBREOFFICE_PACKAGES, fetch_libreoffice_help, fetched_packages
from nsparse.params import DebianPackage

pytestmark = pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None, reason="needs apt-get and dpkg-deb"
)


def _build_deb(folder: Path, package: str, version: str, language_dir: str) -> Path:
    """A real (tiny) Debian package holding one help page, built with dpkg-deb."""
    root = folder / f"build-{package}"
    page = root / "usr/share/libreoffice/help" / language_dir / "text/page.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<p id="par_id1">{language_dir} help</p>', encoding="utf-8")
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: test <t@example.org>\nDescription: test\n"
    )
    deb = folder / f"{package}_{version.replace(':', '%3a')}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture
def seeded_cache(tmp_path: Path) -> tuple[Path, dict[str, DebianPackage]]:
    """An apt cache holding both pinned .debs where a download would put them, and the pins."""
    cache, pins = tmp_path / "apt", {}
    for language, package in LIBREOFFICE_PACKAGES.items():
        version = "1:0.1-test"
        folder = cache / package / "1_0.1-test"
        folder.mkdir(parents=True)
        deb = _build_deb(folder, package, version, {"ko": "ko", "en": "en-US"}[language])
        shutil.rmtree(folder / f"build-{package}")
        pins[package] = DebianPackage(version=version, sha256=hashlib.sha256(deb.read_bytes()).hexdigest())
    return cache, pins


def test_pinned_debs_are_checked_unpacked_and_recorded(seeded_cache):
    cache, pins = seeded_cache
    help_root = fetch_libreoffice_help(cache, pins)
    assert (help_root / "ko/text/page.html").is_file() and (help_root / "en-US/text/page.html").is_file()
    record = fetched_packages(help_root)
    pinned = {package: pin.model_dump() for package, pin in pins.items()}
    assert {
        package: {"version": entry["version"], "sha256": entry["sha256"]} for package, entry in record.items()
    } == pinned
    assert fetch_libreoffice_help(cache, pins) == help_root  # second call: nothing to do


def test_a_deb_with_other_bytes_is_refused(seeded_cache):
    cache, pins = seeded_cache
    pins["libreoffice-help-ko"] = pins["libreoffice-help-ko"].model_copy(update={"sha256": "0" * 64})
    with pytest.raises(RuntimeError, match=r"SHA-256 [0-9a-f]{64} differs from the pinned 0{64}.*libreoffice_help"):
        fetch_libreoffice_help(cache, pins)


def test_a_version_debian_no_longer_serves_is_a_clear_error(tmp_path):
    pins = {
        package: DebianPackage(version="4:0.0-nsparse-test", sha256=None) for package in LIBREOFFICE_PACKAGES.values()
    }
    with pytest.raises(RuntimeError) as raised:
        fetch_libreoffice_help(tmp_path, pins)
    message = str(raised.value)
    assert "apt-get download libreoffice-help-en-us=4:0.0-nsparse-test failed" in message
    assert "apt-cache policy" in message and "sources.libreoffice_help" in message and "snapshot.debian.org" in message


def test_params_pin_an_exact_version_and_hash_of_both_packages():
    pins = load_params().sources.libreoffice_help
    assert set(pins) == set(LIBREOFFICE_PACKAGES.values())
    assert all(pin.version and pin.sha256 is not None and len(pin.sha256) == 64 for pin in pins.values())
