"""Regenerates every fixture: runs each recorder, then updates test/fixtures/manifest.json.

A recorder is a module in reference/ with
    SOURCES: list of paths   every file whose change changes its output (itself included)
    record(fixtures_dir) -> list of paths   writes its fixtures under test/fixtures/, returns them
To add one (a whole transformer's golden state, CLaRa losses, ...), write reference/record_<what>.py
and add its module name to RECORDERS.

Usage: /usr/bin/python3 reference/record_all.py [recorder ...]   (default: all of them)
"""
import importlib
import os
import sys
import time

import torch

import fixture_manifest

RECORDERS = ["record_ops", "record_mistral", "record_clara_stage1", "record_clara_stage3", "record_peft_checkpoint", "record_official_checkpoint", "record_half", "record_tokenizer"]


def main(names: list) -> None:
    # One thread: CPU kernels may split reductions differently with more, and the fixtures
    # should not depend on the machine that made them.
    torch.set_num_threads(1)
    for name in names or RECORDERS:
        if name not in RECORDERS:
            sys.exit(f"unknown recorder {name!r}; known: {', '.join(RECORDERS)}")
        started = time.time()
        module = importlib.import_module(name)
        files = module.record(fixture_manifest.FIXTURES)
        fixture_manifest.update(module.__file__, module.SOURCES, files)
        size = sum(os.path.getsize(f) for f in files)
        print(f"{name}: {len(files)} files, {size / 1e6:.2f} MB, {time.time() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
