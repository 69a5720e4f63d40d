"""test/fixtures/manifest.json: which recorder produced each fixture file, from which sources.

For every recorder the manifest keeps the sha256 of each of its source files; for every fixture,
its own sha256 and the recorder that wrote it. test/engine/fixtures-manifest.test.ts recomputes
these hashes in Node, so a recorder edited without re-running `npm run reference` (or a fixture
edited by hand) fails the tests instead of silently testing against stale numbers.

Paths in the manifest are relative to the repository root, with forward slashes.
"""
import hashlib
import json
import os
import platform

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "test", "fixtures")
MANIFEST = os.path.join(FIXTURES, "manifest.json")


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def repo_path(path: str) -> str:
    return os.path.relpath(os.path.abspath(path), REPO).replace(os.sep, "/")


def load() -> dict:
    if not os.path.exists(MANIFEST):
        return {"recorders": {}, "fixtures": {}}
    with open(MANIFEST, encoding="utf-8") as f:
        return json.load(f)


def update(recorder: str, sources: list[str], files: list[str]) -> None:
    """Replaces everything `recorder` produced before with `files`, and records its sources' hashes.

    recorder: the recorder's module path (e.g. reference/record_ops.py); sources: every file whose
    change should invalidate its fixtures (the recorder itself included); files: the fixtures written.
    """
    manifest = load()
    recorder = repo_path(recorder)
    manifest["torch"] = torch.__version__
    manifest["python"] = platform.python_version()
    manifest["recorders"][recorder] = {"sources": {repo_path(s): sha256(s) for s in sorted(sources)}}
    fixtures = {k: v for k, v in manifest["fixtures"].items() if v["recorder"] != recorder}
    for path in files:
        fixtures[repo_path(path)] = {
            "recorder": recorder,
            "torch": torch.__version__,
            "sha256": sha256(path),
            "bytes": os.path.getsize(path),
        }
    manifest["fixtures"] = dict(sorted(fixtures.items()))
    manifest["recorders"] = dict(sorted(manifest["recorders"].items()))
    os.makedirs(FIXTURES, exist_ok=True)
    with open(MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
