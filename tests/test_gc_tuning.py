"""The web worker's start-up heap is frozen out of the garbage collector (crm_bank.gc_tuning)."""

from __future__ import annotations

import gc
import runpy
import weakref
from pathlib import Path

import pytest

from crm_bank import gc_tuning
from crm_bank.ui import fragments


@pytest.fixture
def collector_restored():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_worker_heap_freeze_takes_the_loaded_heap_out_of_collections(collector_restored):
    gc.unfreeze()
    middle, oldest = gc.get_threshold()[1:]
    gc_tuning.worker_heap_freeze()
    assert gc.get_freeze_count() > 10_000  # Django, the URLconf and the views are in there
    assert gc.get_threshold() == (gc_tuning.YOUNG_GENERATION_THRESHOLD, middle, oldest)
    # What is created later is still collected: a reference cycle made now is freed by a collection.
    class Node:
        pass

    node = Node()
    node.itself = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


def test_gunicorn_digests_the_release_then_freezes_once_each_worker_has_loaded_the_site(monkeypatch):
    calls = []
    monkeypatch.setattr(gc_tuning, "worker_heap_freeze", lambda: calls.append("frozen"))
    monkeypatch.setattr(fragments, "release_digest", lambda: calls.append("digested"))
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    config["post_worker_init"](worker=object())
    assert calls == ["digested", "frozen"]
    assert "%(U)s" in config["access_log_format"] and "%(q)s" not in config["access_log_format"]
