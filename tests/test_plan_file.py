"""Tracking plan files: round trips, display names, and errors that point at line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.datasets import plan_path
from workbench.exceptions import WorkbenchError
from workbench.plan import PlanError, PropertySpec, TrackingPlan

GOOD = """\
version: 1
name: Shop
languages: [en, zh]
common_properties:
  platform: {type: string, required: true, allowed: [web, ios]}
events:
  add_to_cart:
    display_name: {en: Add to cart, zh: 加入购物车}
    owner: checkout
    category: purchase
    properties:
      price:
        type: float
        required: true
        min: 0
      quantity: integer
  signup:
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reads_every_field(tmp_path: Path) -> None:
    plan = TrackingPlan.load(_write(tmp_path, GOOD))
    assert plan.name == "Shop"
    assert plan.languages == ("en", "zh")
    assert plan.event_names == ["add_to_cart", "signup"]
    cart = plan.event("add_to_cart")
    assert (cart.owner, cart.category) == ("checkout", "purchase")
    assert cart.properties["price"] == PropertySpec("price", "float", required=True, min=0)
    assert cart.properties["quantity"].type == "integer"
    assert set(plan.properties_of("signup")) == {"platform"}
    assert plan.properties_of("add_to_cart")["platform"].allowed == ("web", "ios")


def test_save_then_load_gives_the_same_plan(tmp_path: Path) -> None:
    plan = TrackingPlan.load(_write(tmp_path, GOOD))
    again = TrackingPlan.load(plan.save(tmp_path / "copy.yaml"))
    assert again == plan
    assert "加入购物车" in (tmp_path / "copy.yaml").read_text(encoding="utf-8")
    assert TrackingPlan.from_dict(plan.to_dict()) == plan


def test_shipped_plan_round_trips(tmp_path: Path) -> None:
    plan = TrackingPlan.load(plan_path())
    assert TrackingPlan.load(plan.save(tmp_path / "p.yaml")) == plan
    assert plan.display_names("zh")["pay_success"] == "支付成功"


def test_a_change_to_one_property_is_a_one_line_diff(tmp_path: Path) -> None:
    plan = TrackingPlan.load(_write(tmp_path, GOOD))
    before = plan.to_yaml().splitlines()
    data = plan.to_dict()
    data["events"]["add_to_cart"]["properties"]["price"]["min"] = 1
    after = TrackingPlan.from_dict(data).to_yaml().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("        min: 0", "        min: 1")]


def test_display_names_fall_back_to_event_names(tmp_path: Path) -> None:
    plan = TrackingPlan.load(_write(tmp_path, GOOD))
    assert plan.display_names() == {"add_to_cart": "Add to cart", "signup": "signup"}
    assert plan.display_names("zh")["add_to_cart"] == "加入购物车"
    with pytest.raises(PlanError, match="'fr' is not in the plan"):
        plan.display_names("fr")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "        type: float",
            "        type: flaot",
            13,
            "events.add_to_cart.properties.price.type",
            "'flaot' is not a property type",
        ),
        (
            "    owner: checkout",
            "    owners: checkout",
            9,
            "events.add_to_cart.owners",
            "unknown field 'owners'; did you mean 'owner'",
        ),
        (
            "        required: true\n        min: 0",
            "        required: yes please\n        min: 0",
            14,
            "events.add_to_cart.properties.price.required",
            "required is true or false",
        ),
        (
            "        min: 0",
            "        min: zero",
            15,
            "events.add_to_cart.properties.price.min",
            "min must be a number",
        ),
        (
            "allowed: [web, ios]",
            "allowed: [web, 3]",
            5,
            "common_properties.platform.allowed[1]",
            "3 is not a string",
        ),
        (
            "{en: Add to cart, zh: 加入购物车}",
            "{en: Add to cart, fr: Ajouter}",
            8,
            "events.add_to_cart.display_name.fr",
            "language 'fr' is not in the plan's languages",
        ),
        (
            "      quantity: integer",
            "      quantity: integer\n      price: float",
            17,
            "events.add_to_cart.properties.price",
            "'price' appears twice (first on line 12)",
        ),
        ("version: 1", "version: 2", 1, "version", "plan version 1"),
    ],
)
def test_errors_point_at_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(PlanError) as caught:
        TrackingPlan.load(path)
    err = caught.value
    assert (err.line, err.field) == (line, field)
    assert err.file == str(path)
    assert message in str(err)
    assert str(err).startswith(f"{path}:{line}:")
    assert isinstance(err, WorkbenchError)


def test_min_above_max_and_missing_type() -> None:
    with pytest.raises(PlanError, match="min \\(5\\) is greater than max \\(1\\)"):
        TrackingPlan.from_dict(
            {"events": {"e": {"properties": {"p": {"type": "integer", "min": 5, "max": 1}}}}}
        )
    with pytest.raises(PlanError, match="needs a type") as caught:
        TrackingPlan.from_dict({"events": {"e": {"properties": {"p": {"required": True}}}}})
    assert caught.value.field == "events.e.properties.p"
    assert caught.value.line is None  # from a dict there is no line to point at


def test_broken_yaml_says_where(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("  signup:", "  signup: [unclosed"))
    with pytest.raises(PlanError, match="not valid YAML") as caught:
        TrackingPlan.load(path)
    assert caught.value.line is not None and caught.value.line >= 17


def test_events_as_a_list_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "events:\n  - name: signup\n")
    with pytest.raises(PlanError, match="maps event names") as caught:
        TrackingPlan.load(path)
    assert (caught.value.line, caught.value.field) == (2, "events")


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no tracking plan"):
        TrackingPlan.load(tmp_path / "nope.yaml")
    with pytest.raises(PlanError, match="empty"):
        TrackingPlan.load(_write(tmp_path, "# nothing yet\n"))


def test_json_plans_load(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"events": {"pay": {"properties": {"amount": {"type": "float"}}}}}')
    assert TrackingPlan.load(path).properties_of("pay")["amount"].type == "float"


def test_to_frame_lists_rules(tmp_path: Path) -> None:
    frame = TrackingPlan.load(_write(tmp_path, GOOD)).to_frame()
    price = frame[(frame["event"] == "add_to_cart") & (frame["property"] == "price")].iloc[0]
    assert price["rule"] == "float, required, ≥ 0"
    assert not price["common"]
    assert frame[frame["property"] == "platform"]["common"].all()
