"""The repository carries its own copy of the contract (tests/shared/), so a clone with nothing
beside it can run its tests and demo. When ../shared is beside the checkout (CI, developers), the
copy must be identical to it: drift is caught here, never silent."""

from __future__ import annotations

import json

import pytest

from shared import paths

UPSTREAM = paths.UPSTREAM_CONTRACT_DIR
COPIED = ("world/default.json", "eval/README.md", "eval/dev.jsonl")


def test_the_repository_carries_the_world_and_the_cases_it_reads() -> None:
    for rel in COPIED:
        assert (paths.CONTRACT_DIR / rel).is_file(), f"{rel} is missing from {paths.CONTRACT_DIR}"
    assert paths.default_world().is_relative_to(paths.REPO_ROOT)
    assert paths.dev_cases().is_relative_to(paths.REPO_ROOT)


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="no ../shared beside this checkout: nothing to drift from")
@pytest.mark.parametrize("rel", COPIED)
def test_the_copy_is_identical_to_the_shared_contract(rel: str) -> None:
    upstream = UPSTREAM / rel
    assert upstream.is_file(), f"{upstream} is gone: the contract changed shape; update COPIED and the copy"
    assert (paths.CONTRACT_DIR / rel).read_bytes() == upstream.read_bytes(), (
        f"tests/shared/{rel} has drifted from {upstream}: copy it again (cp {upstream} tests/shared/{rel})")


def test_the_fresh_cases_share_no_query_with_dev() -> None:
    fresh = paths.fresh_cases()
    if not fresh.exists():
        pytest.skip("no fresh set yet")
    dev = {json.loads(line)["query"].casefold() for line in paths.dev_cases().read_text().splitlines() if line}
    ours = [json.loads(line)["query"].casefold() for line in fresh.read_text().splitlines() if line]
    assert not dev.intersection(ours)
