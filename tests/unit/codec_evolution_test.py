"""The schema evolution rules of schemas/EVOLUTION.md that can be checked mechanically."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema

from nextbest.codec import OUTPUT_FAMILIES, EmbeddedRegistry
from nextbest.codec.compat import resolution_problems
from nextbest.codec.json_events import FAMILY_KEY
from nextbest.codec.registry import parse_definition

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
INDEX = json.loads((SCHEMAS / "registry.json").read_text())
REGISTRY = EmbeddedRegistry(SCHEMAS)

#: Content fingerprints of every registered version (sha256 of the sorted, compact JSON, first
#: 16 hex digits). A registered schema never changes: add a new version instead, and pin it here.
PINNED = {
    1: "38cfe822d7fb68e3",  # nextbest.events.ClickstreamEvent v1
    2: "50a7890f1c610874",  # nextbest.events.PurchaseEvent v1
    3: "e4cf3ca231182fc9",  # nextbest.events.SupportEvent v1
    4: "7107e6f8a6ff6da1",  # nextbest.events.ReviewEvent v1
    5: "9518f32e90f314b4",  # nextbest.events.IdentityEvent v1
    6: "22b2073c7a3647b1",  # nextbest.events.CatalogEvent v1
    7: "9dde608ac0d9becf",  # nextbest.decisions.Decision v1
    8: "d19944af8f489698",  # nextbest.decisions.Decision v2 (status, suppressed_by)
    9: "bc7d7bde16303bbd",  # nextbest.decisions.Outcome v1
    10: "b575e5363bc46a50",  # nextbest.privacy.ErasureAck v1
    11: "433e6da5f9d0bbfc",  # nextbest.insights.SentimentDigest v1
    12: "4ee8a65d0561804c",  # nextbest.events.IdentityEvent v2 (split_requested)
    13: "70d2ca8db4f8d990",  # nextbest.events.FulfilmentEvent v1
}


def fingerprint(definition: Any) -> str:
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def walk(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named or complex type (and every record field) in a schema definition."""
    if isinstance(schema, list):
        for branch in schema:
            yield from walk(branch, path)
    elif isinstance(schema, dict):
        yield path, schema
        if schema.get("type") in ("record", "error"):
            for field in schema["fields"]:
                yield f"{path}.{field['name']}".lstrip("."), {"field": field}
                yield from walk(field["type"], f"{path}.{field['name']}".lstrip("."))
        elif schema.get("type") == "array":
            yield from walk(schema["items"], f"{path}[]")
        elif schema.get("type") == "map":
            yield from walk(schema["values"], f"{path}{{}}")
        elif isinstance(schema.get("type"), dict | list):
            yield from walk(schema["type"], path)


def registered_files() -> list[str]:
    return [v["file"] for s in INDEX["subjects"].values() for v in s["versions"]]


def test_every_file_parses_and_is_registered() -> None:
    on_disk = sorted(p.name for p in SCHEMAS.glob("*.avsc"))
    assert on_disk == sorted(registered_files()), "every .avsc is registered, and exists"
    for name in on_disk:
        parse_schema(json.loads((SCHEMAS / name).read_text()))  # raises on any error


def test_registered_ids_are_unique_and_pinned() -> None:
    ids = [v["id"] for s in INDEX["subjects"].values() for v in s["versions"]]
    assert len(ids) == len(set(ids)), "a schema id is registered twice"
    families = [s["family"] for s in INDEX["subjects"].values()]
    assert len(families) == len(set(families))
    for subject, entry in INDEX["subjects"].items():
        versions = [v["version"] for v in entry["versions"]]
        assert versions == list(range(1, len(versions) + 1)), f"{subject}: versions 1..n"
    changed = {
        r.schema_id for r in REGISTRY if PINNED.get(r.schema_id) != fingerprint(r.definition)
    }
    assert not changed, (
        f"registered schema ids {sorted(changed)} changed or are not pinned: registered "
        "versions are immutable (add a new version; pin new ids in PINNED)"
    )


def test_subjects_follow_record_name_strategy() -> None:
    for registered in REGISTRY:
        definition = registered.definition
        assert f"{definition['namespace']}.{definition['name']}" == registered.subject


@pytest.mark.parametrize("registered", list(REGISTRY), ids=lambda r: r.subject)
def test_optional_fields_and_enums_have_defaults(registered: Any) -> None:
    for path, node in walk(registered.definition):
        field = node.get("field")
        if field is not None:
            kind = field["type"]
            assert field["name"] != FAMILY_KEY, f"{path}: 'family' is reserved for JSON events"
            if isinstance(kind, list) and "null" in kind:
                assert kind[0] == "null", f"{path}: an optional field lists null first"
                assert "default" in field and field["default"] is None, f"{path}: default null"
        elif node.get("type") == "enum":
            assert node.get("default") in node["symbols"], f"{path}: enum needs a default symbol"


@pytest.mark.parametrize("family", sorted(REGISTRY.families - OUTPUT_FAMILIES))
def test_events_carry_id_and_event_time(family: str) -> None:
    fields = {f["name"]: f["type"] for f in REGISTRY.latest(family).definition["fields"]}
    assert fields["event_id"] == "string"
    assert fields["event_time"] == {"type": "long", "logicalType": "timestamp-millis"}


def enums(definition: Any) -> dict[str, list[str]]:
    return {n["name"]: n["symbols"] for _, n in walk(definition) if n.get("type") == "enum"}


def evolution_problems(registry: EmbeddedRegistry, family: str) -> list[str]:
    """Events BACKWARD_TRANSITIVE (and only fields with defaults removed); decisions
    FULL_TRANSITIVE; enum symbols only ever appended."""
    versions = sorted((r for r in registry if r.family == family), key=lambda r: r.version or 0)
    problems = []
    for index, new in enumerate(versions):
        for old in versions[:index]:
            label = f"{family} v{new.version} vs v{old.version}"
            found = resolution_problems(new.parsed, old.parsed)
            forward = resolution_problems(old.parsed, new.parsed)
            if family not in OUTPUT_FAMILIES:  # events: only removals of fields without default
                forward = [p for p in forward if p.endswith("field added without a default")]
            found += [f"forward: {p}" for p in forward]
            new_enums = enums(new.definition)
            for name, symbols in enums(old.definition).items():
                if new_enums.get(name, symbols)[: len(symbols)] != symbols:
                    found.append(f"enum {name}: symbols may only be appended")
            problems += [f"{label}: {p}" for p in found]
    return problems


@pytest.mark.parametrize("family", sorted(REGISTRY.families))
def test_versions_are_compatible(family: str) -> None:
    assert evolution_problems(REGISTRY, family) == []


def _with_v2(tmp_path: Path, family: str, change: Any) -> EmbeddedRegistry:
    """The registry with one more version of ``family``: its latest, changed by ``change``."""
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    index = json.loads((target / "registry.json").read_text())
    entry = next(e for e in index["subjects"].values() if e["family"] == family)
    latest = entry["versions"][-1]
    definition = json.loads((target / latest["file"]).read_text())
    change(definition)
    (target / f"{family}.next.avsc").write_text(json.dumps(definition))
    entry["versions"].append(
        {"version": latest["version"] + 1, "id": 99, "file": f"{family}.next.avsc"})
    (target / "registry.json").write_text(json.dumps(index))
    return EmbeddedRegistry(target)


def _field(definition: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in definition["fields"] if f["name"] == name)


@pytest.mark.parametrize(
    ("family", "change", "expected"),
    [
        ("review", lambda d: d["fields"].append({"name": "x", "type": "int", "default": 0}), []),
        ("review", lambda d: d["fields"].append({"name": "x", "type": "int"}), ["x: field added"]),
        ("review", lambda d: d["fields"].remove(_field(d, "text")), []),
        ("review", lambda d: d["fields"].remove(_field(d, "rating")), ["forward: rating"]),
        ("review", lambda d: _field(d, "rating").update(type="long"), []),
        ("review", lambda d: _field(d, "rating").update(type="string"), ["rating: type"]),
        ("review", lambda d: _field(d, "source")["type"]["symbols"].reverse(), ["enum Review"]),
        (
            "decision",
            lambda d: _field(d, "scores").update(type="string", default=""),
            ["scores: type", "forward: scores"],
        ),
        ("decision", lambda d: d["fields"].remove(_field(d, "action")), ["forward: action"]),
    ],
)
def test_evolution_rules_catch_breaking_versions(
    tmp_path: Path, family: str, change: Any, expected: list[str]
) -> None:
    registry = _with_v2(tmp_path, family, change)
    previous = f"vs v{registry.latest(family).version - 1}:"  # transitive: one set per version
    problems = [p for p in evolution_problems(registry, family) if previous in p]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.split(": ", 1)[1].startswith(start), problems


def record(*fields: dict[str, Any], name: str = "E") -> dict[str, Any]:
    return parse_definition({"type": "record", "name": name, "namespace": "t", "fields": fields})


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"),
    [
        ({"name": "a", "type": "int"}, {"name": "a", "type": "long"}, [], ["a: type changed"]),
        ({"name": "a", "type": "string"}, {"name": "a", "type": "int"}, ["a: type"], ["a: type"]),
        (
            {"name": "a", "type": "string"},
            {"name": "a", "type": ["null", "string"], "default": None},
            [],
            ["a: type changed from null to string"],
        ),
        (
            {"name": "e", "type": {"type": "enum", "name": "K", "symbols": ["x", "y"]}},
            {"name": "e", "type": {"type": "enum", "name": "K", "symbols": ["x"]}},
            ["e: symbols ['y'] removed"],
            [],
        ),
        (
            {"name": "e", "type": {"type": "enum", "name": "K", "symbols": ["x"], "default": "x"}},
            {"name": "e", "type": {"type": "enum", "name": "K", "symbols": ["x", "z"]}},
            [],
            [],  # old readers map the new symbol z to their default x
        ),
        (
            {"name": "l", "type": {"type": "array", "items": "int"}},
            {"name": "l", "type": {"type": "array", "items": "double"}},
            [],
            ["l[]: type changed"],
        ),
    ],
)
def test_compatibility_checker(
    old: dict[str, Any], new: dict[str, Any], backward: list[str], forward: list[str]
) -> None:
    def matches(problems: list[str], expected: list[str]) -> bool:
        return len(problems) == len(expected) and all(
            p.startswith(e) for p, e in zip(problems, expected, strict=True)
        )

    old_schema, new_schema = record(old), record(new)
    assert matches(resolution_problems(new_schema, old_schema), backward)
    assert matches(resolution_problems(old_schema, new_schema), forward)


def test_compatibility_checker_fields() -> None:
    base = record({"name": "a", "type": "string"})
    added = record({"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0})
    added_required = record({"name": "a", "type": "string"}, {"name": "b", "type": "int"})
    renamed = record({"name": "a", "type": "string"}, name="F")
    assert resolution_problems(added, base) == []
    assert resolution_problems(base, added) == []  # old readers skip b
    assert resolution_problems(added_required, base) == ["b: field added without a default"]
    assert resolution_problems(base, record()) == ["a: field added without a default"]
    assert resolution_problems(renamed, base) == ["<root>: renamed E to F"]
