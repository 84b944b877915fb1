#!/usr/bin/env python
"""Re-create the calibration history pack from the released wheels that froze each calibration (issue 15).

Every release of ``qiskit-ibm-runtime`` (``fake_provider/backends/<name>/props_<name>.json``) and of the older
``qiskit-terra`` (``qiskit/test/mock/backends/...``, later ``qiskit/providers/fake_provider/backends/...``) froze
the then-current calibration of each real IBM device. ``calibration_history_sources.tsv`` lists the distinct
props files, which wheel holds each, and the sha256 of ``json.dumps(props, sort_keys=True)``.

This script downloads the ten wheels with ``pip download --no-deps`` into a temporary folder (or uses
``--wheels DIR``), extracts each listed props file (and its conf file), verifies its sha256, honours the
provenance flags and writes one xz-compressed JSON pack plus the NOTICE for the Apache-2.0 data:

    .venv/bin/python scripts/build_history_pack.py [--sources TSV] [--wheels DIR] [--out DIR]

Flags: ``alt_*`` names are real hardware recorded under a stand-in name: stored under the real device with a
note. ``props_cambridge_alt.json`` (a copy of cambridge 2020-07-16 with renamed gates) and the ``fake_fractional``
files (synthetic) are listed in the pack's ``skipped`` with their reason. Snapshots whose release kept the
configuration only in Python code are paired with the nearest-dated conf of the same device (noted).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import lzma
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "benchmarks_app", "data", "calibration_history")
DEFAULT_SOURCES = os.path.join(DEFAULT_OUT, "sources.tsv")
PACK_NAME = "history.json.xz"
PACK_FORMAT = 1

# (package, version) -> extra pip arguments. Old terra wheels exist only as binaries for old Pythons.
WHEELS = {
    ("qiskit-ibm-runtime", "0.21.0"): [],
    ("qiskit-ibm-runtime", "0.24.1"): [],
    ("qiskit-ibm-runtime", "0.37.0"): [],
    ("qiskit-ibm-runtime", "0.47.0"): [],
    ("qiskit-terra", "0.11.0"): ["--only-binary=:all:", "--platform", "manylinux1_x86_64", "--python-version", "3.7"],
}
for _v in ("0.13.0", "0.14.2", "0.15.0", "0.16.0", "0.20.0"):
    WHEELS[("qiskit-terra", _v)] = ["--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                                    "--python-version", "3.8"]

NOTICE = """Calibration history pack (history.json.xz)
=========================================

The calibration data in history.json.xz (IBM Quantum backend properties and configurations, "props_*.json" and
"conf_*.json") was extracted unchanged (apart from re-serialisation) from these released wheels:

{wheels}

Copyright IBM and the Qiskit contributors. Licensed under the Apache License, Version 2.0 (the "License");
you may not use these files except in compliance with the License. You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the License is
distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and limitations under the License.

Changes made: each props file is stored as parsed JSON (its sha256 over json.dumps(data, sort_keys=True) is
recorded and verified); configurations are stored once per distinct content; snapshots recorded under an
internal stand-in name (alt_*) are filed under the real device with a note; two synthetic files
(fake_fractional) and one duplicate with renamed gates (props_cambridge_alt.json) are left out, listed with
their reason. The pack is rebuilt by scripts/build_history_pack.py.
"""


def content_sha256(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def read_sources(path: str) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def wheel_path(folder: str, package: str, version: str) -> str | None:
    prefix = f"{package.replace('-', '_')}-{version}-"
    for name in sorted(os.listdir(folder)):
        if name.startswith(prefix) and name.endswith(".whl"):
            return os.path.join(folder, name)
    return None


def download_wheels(folder: str, needed: set[tuple[str, str]]) -> None:
    for package, version in sorted(needed):
        if wheel_path(folder, package, version):
            continue
        extra = WHEELS.get((package, version))
        if extra is None:
            raise SystemExit(f"no download rule for {package}=={version}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder, *extra,
               f"{package}=={version}"]
        print("  $", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        if not wheel_path(folder, package, version):
            raise SystemExit(f"pip did not leave a wheel for {package}=={version} in {folder}")


def skip_reason(row: dict) -> str | None:
    flag = row["flag"]
    if flag.startswith("synthetic"):
        return f"synthetic data, not a device calibration ({flag})"
    if flag.startswith("duplicate"):
        return f"duplicate of a stored snapshot ({flag})"
    return None


def stored_name(row: dict, real_names: dict[str, str]) -> tuple[str, list[str]]:
    """The backend name to file the snapshot under, and notes saying why it differs from the file's."""
    name = row["backend_name"]
    if name.startswith("alt_"):
        real = real_names.get(row["device"])
        if real:
            return real, [f"recorded under the internal stand-in name {name!r} (real hardware); filed under {real}"]
    if row["flag"].startswith("likely real"):
        return name, [f"provenance: {row['flag']}"]
    return name, []


def build(sources: list[dict], wheels: str) -> dict:
    zips: dict[tuple[str, str], zipfile.ZipFile] = {}

    def member(package: str, version: str, path: str) -> dict:
        key = (package, version)
        if key not in zips:
            found = wheel_path(wheels, package, version)
            if not found:
                raise SystemExit(f"missing wheel {package}=={version} in {wheels}")
            zips[key] = zipfile.ZipFile(found)
        return json.loads(zips[key].read(path))

    real_names: dict[str, str] = {}
    for row in sources:
        if not row["backend_name"].startswith(("alt_", "fake_")):
            real_names.setdefault(row["device"], row["backend_name"])

    confs: dict[str, dict] = {}
    conf_dates: dict[str, list[tuple[dt.datetime, str, str]]] = {}  # device -> (date, conf sha, origin)
    rows = []
    for row in sources:
        props = member(row["package"], row["version"], row["props_path"])
        digest = content_sha256(props)
        if digest != row["props_content_sha256"]:
            raise SystemExit(f"sha256 mismatch for {row['package']} {row['version']} {row['props_path']}: "
                             f"{digest} != {row['props_content_sha256']}")
        conf_sha = None
        if row["conf_path"]:
            conf = member(row["package"], row["version"], row["conf_path"])
            conf_sha = content_sha256(conf)
            confs[conf_sha] = conf
            conf_dates.setdefault(row["device"], []).append(
                (dt.datetime.fromisoformat(row["calibrated_at"]), conf_sha, f"{row['package']} {row['version']}"))
        rows.append((row, props, digest, conf_sha))

    snapshots, skipped = [], []
    for row, props, digest, conf_sha in rows:
        origin = f"{row['package']} {row['version']}: {row['props_path']}"
        reason = skip_reason(row)
        if reason:
            skipped.append({"device": row["device"], "backend_name": row["backend_name"],
                            "calibrated_at": row["calibrated_at"], "origin": origin, "reason": reason})
            continue
        name, notes = stored_name(row, real_names)
        if conf_sha is None:
            when = dt.datetime.fromisoformat(row["calibrated_at"])
            options = conf_dates.get(row["device"], [])
            if options:
                near = min(options, key=lambda o: abs((o[0] - when).total_seconds()))
                conf_sha = near[1]
                notes.append(f"configuration not in this release (kept in Python code): paired with the nearest "
                             f"configuration of the same device, from the {near[0].date().isoformat()} snapshot "
                             f"({near[2]})")
            else:
                notes.append("no configuration of this device in any release: basis gates and coupling map are "
                             "inferred from the calibrated gates")
        snapshots.append({"device": row["device"], "backend_name": name, "recorded_name": row["backend_name"],
                          "calibrated_at": row["calibrated_at"], "flag": row["flag"], "origin": origin,
                          "props_sha256": digest, "conf_sha256": conf_sha, "notes": notes, "props": props})
    snapshots.sort(key=lambda s: (s["device"], dt.datetime.fromisoformat(s["calibrated_at"])))
    used = {s["conf_sha256"] for s in snapshots if s["conf_sha256"]}
    return {"format": PACK_FORMAT, "license": "Apache-2.0 (see NOTICE)",
            "wheels": sorted(f"{p}=={v}" for p, v in zips),
            "snapshots": snapshots, "skipped": skipped,
            "configurations": {k: confs[k] for k in sorted(used)}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", default=DEFAULT_SOURCES, help="calibration_history_sources.tsv")
    parser.add_argument("--wheels", help="folder holding (or receiving) the wheels; default a temporary folder")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for history.json.xz and NOTICE")
    args = parser.parse_args(argv)
    sources = read_sources(args.sources)
    needed = {(r["package"], r["version"]) for r in sources}
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels or tmp
        os.makedirs(wheels, exist_ok=True)
        download_wheels(wheels, needed)
        pack = build(sources, wheels)
    os.makedirs(args.out, exist_ok=True)
    blob = json.dumps(pack, sort_keys=True, separators=(",", ":")).encode()
    out = os.path.join(args.out, PACK_NAME)
    with lzma.open(out, "wb", preset=9 | lzma.PRESET_EXTREME) as fh:
        fh.write(blob)
    with open(os.path.join(args.out, "NOTICE"), "w") as fh:
        fh.write(NOTICE.format(wheels="\n".join(f"    {w} (PyPI)" for w in pack["wheels"])))
    print(f"{len(pack['snapshots'])} snapshots of {len({s['backend_name'] for s in pack['snapshots']})} backends, "
          f"{len(pack['configurations'])} configurations, {len(pack['skipped'])} skipped; "
          f"{len(blob) / 1e6:.1f} MB JSON -> {os.path.getsize(out) / 1e6:.2f} MB {out}")
    for s in pack["skipped"]:
        print(f"  skipped {s['backend_name']} {s['calibrated_at']}: {s['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
