"""Tool retrieval with the real encoder (all-MiniLM-L6-v2 from its wheel) and the trained
classifier committed under models/retriever."""

import json

import numpy as np
import pytest

from pippin.datagen import generate, overlap
from services.retrieval.retriever import Retriever, choose, clauses, with_needs
from shared import catalog
from shared.validate import validate_plan


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    return Retriever.load()


def test_needed_tools_come_along() -> None:
    assert with_needs({"send_sms"}) == {"send_sms", "get_phone_number"}
    assert with_needs({"summarize_pdf"}) == {"summarize_pdf", "open_and_get_file_path"}
    assert with_needs({"maps_open_location"}) == {"maps_open_location"}


def test_nothing_over_the_threshold_means_no_choice_and_top_ups_otherwise() -> None:
    scores = dict.fromkeys(catalog.TOOL_NAMES, 0.01)
    assert choose(scores, 0.2, 3) == set()
    scores.update(send_sms=0.9, create_reminder=0.1, maps_open_location=0.05)
    assert choose(scores, 0.2, 3) == {"send_sms", "get_phone_number", "create_reminder", "maps_open_location"}


def test_clauses_split_compound_requests() -> None:
    assert clauses("text Sid that I'm late, email Maya the deck and remind me to call Bo") == [
        "text Sid that I'm late", "email Maya the deck", "remind me to call Bo"]
    assert clauses("show me the Ferry Building") == []


def test_generated_data_is_valid_seeded_and_free_of_eval_queries(dev_cases) -> None:
    a = generate(300, seed=7, exclude=[c["query"] for c in dev_cases])
    b = generate(300, seed=7)
    assert [s.query for s in a] == [s.query for s in b]
    assert all(validate_plan(s.plan).ok for s in a)
    assert all(set(s.tools) == {line.split("(")[0].split(". ")[1] for line in s.plan.splitlines()[:-1]} for s in a)
    assert overlap(a, [c["query"] for c in dev_cases])["exact_matches"] == 0
    assert {"sms", "email", "event", "reminder", "decline"} <= {i for s in a for i in s.intents}


@pytest.mark.parametrize(("text", "must"), [
    ("text Bo and Kai that the train is delayed", {"get_phone_number", "send_sms"}),
    ("email Lena the grant proposal", {"get_email_address", "open_and_get_file_path", "compose_new_email"}),
    ("remind me tomorrow to water the plants", {"create_reminder"}),
    ("how do I get to the stadium by bus", {"maps_show_directions"}),
])
def test_real_requests_get_their_tools(retriever: Retriever, text: str, must: set[str]) -> None:
    got = retriever.retrieve(text)
    assert must <= set(got.tools), got.scores
    assert not got.fallback and len(got.tools) <= 8
    for example in got.examples:  # never an example that uses a tool the planner is not offered
        assert example.tools() <= set(got.tools)
    assert len(got.examples) == retriever.k_examples


def test_a_request_no_tool_serves_falls_back_to_all_tools_or_few(retriever: Retriever) -> None:
    got = retriever.retrieve("qwertyuiop asdfghjkl")
    assert got.fallback == (set(got.tools) == set(catalog.TOOL_NAMES))
    json.dumps(got.to_json())


@pytest.mark.slow
def test_training_is_reproducible_from_a_seed(tmp_path, retriever: Retriever) -> None:
    from pippin.retriever_training import train

    a = train(tmp_path / "a", seed=3, n_train=400, n_heldout=200, pool_size=20, encoder=retriever.encoder)
    b = train(tmp_path / "b", seed=3, n_train=400, n_heldout=200, pool_size=20, encoder=retriever.encoder)
    wa, wb = np.load(tmp_path / "a" / "classifier.npz"), np.load(tmp_path / "b" / "classifier.npz")
    assert np.allclose(wa["weights"], wb["weights"], atol=1e-4)
    assert a["threshold"] == b["threshold"] and a["heldout"] == b["heldout"]
    assert Retriever.load(tmp_path / "a", encoder=retriever.encoder).retrieve("text Bo hi").tools


def test_pippin_retrieve_over_cases_reports_recall(retriever: Retriever, tmp_path) -> None:
    from services.retrieval.report import retrieval_report

    cases = tmp_path / "c.jsonl"
    cases.write_text(json.dumps({"id": "x", "query": "text Bo that I am late",
                                 "plan": '1. get_phone_number("Bo")\n2. send_sms(["$1"], "Late")\n3. join()'}) + "\n")
    report = retrieval_report(retriever, cases)
    assert report["cases"] == 1 and report["tool_recall"] == 1.0 and report["latency_ms_p50"] > 0
