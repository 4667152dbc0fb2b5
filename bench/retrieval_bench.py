"""Retrieval: latency per request (warm, one request at a time, as the stage serves them),
tool recall and tools per request over the dev cases."""

from __future__ import annotations

from typing import Any

from services.retrieval.report import retrieval_report
from services.retrieval.retriever import Retriever
from shared import paths


def run() -> dict[str, Any]:
    report = retrieval_report(Retriever.load(), paths.dev_cases())
    report.pop("missed")
    return report
