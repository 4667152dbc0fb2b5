import re

from shared import catalog, paths
from shared.catalog import Effect


def test_catalog_matches_the_published_signatures() -> None:
    readme = (paths.CONTRACT_DIR / "eval" / "README.md").read_text()
    block = readme.split("```")[1]
    published = {}
    for line in block.strip().splitlines():
        m = re.match(r"(\w+)\((.*)\) -> (\w+)", line.strip())
        assert m, line
        params = [p.strip() for p in m.group(2).split(",") if p.strip()]
        published[m.group(1)] = ([p.split(":")[0].strip() for p in params],
                                 [p.split(":")[1].strip() for p in params])
    assert set(published) == set(catalog.TOOL_NAMES) and len(catalog.TOOLS) == 16
    for tool in catalog.TOOLS:
        names, types = published[tool.name]
        assert [p.name for p in tool.params] == names, tool.name
        assert [p.type.value for p in tool.params] == types, tool.name


def test_effects_and_serial_apps() -> None:
    assert catalog.get("send_sms").effect is Effect.OUTWARD
    assert catalog.get("get_phone_number").effect is Effect.READ
    assert catalog.effect_of("create_calendar_event", ("t", "", "", "", ["a@b.c"], "", "")) is Effect.OUTWARD
    assert catalog.effect_of("create_calendar_event", ("t", "", "", "", [], "", "")) is Effect.LOCAL
    assert catalog.get("send_sms").serial and not catalog.get("get_email_address").serial


def test_unknown_tool_names_the_known_ones() -> None:
    try:
        catalog.get("send_fax")
    except KeyError as e:
        assert "send_sms" in str(e)
    else:
        raise AssertionError("no error")
