"""Dependencies point one way: contract <- runtime <- services <- pippin/ (CLI, runners, data,
training, eval). Read from the source's imports (every one, also those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}  # "from shared import models"
    return out


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_no_service_and_nothing_shared_imports_pippin() -> None:
    bad = {str(p.relative_to(ROOT)): sorted(i for i in imports_of(p) if within(i, "pippin"))
           for p in modules("services") + modules("shared")}
    assert not {k: v for k, v in bad.items() if v}


def test_a_stage_imports_only_itself_the_contract_and_the_runtime() -> None:
    bad = {}
    for p in modules("services"):
        parts = p.relative_to(ROOT / "services").parts
        stage = parts[0] if len(parts) > 1 else None  # services/launch.py belongs to no stage
        others = sorted(i for i in imports_of(p) if within(i, "services") and i != "services"
                        and not (stage and within(i, f"services.{stage}")))
        if others:
            bad[str(p.relative_to(ROOT))] = others
    assert not bad


def test_the_contract_holds_no_sockets_and_no_runtime() -> None:
    contract = [p for p in modules("shared") if "runtime" not in p.parts]
    assert {p.name for p in contract} >= {"catalog.py", "plan.py", "validate.py", "wire.py", "config.py", "cases.py"}
    bad = {str(p.relative_to(ROOT)): sorted(i for i in imports_of(p) if within(i, "zmq") or within(i, "services")
                                            or within(i, "shared.runtime") or within(i, "pippin"))
           for p in contract}
    assert not {k: v for k, v in bad.items() if v}


def test_the_runtime_imports_no_service() -> None:
    bad = {str(p.relative_to(ROOT)): sorted(i for i in imports_of(p) if within(i, "services"))
           for p in modules("shared/runtime")}
    assert not {k: v for k, v in bad.items() if v}
