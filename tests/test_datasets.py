"""The e-commerce demo: determinism, a believable journey, and the three planted stories.

Every expected number is computed here from the generated rows with pandas or ClickHouse (chdb),
never copied from the generator; the tests then check what the workbench reports.
"""

from __future__ import annotations

import chdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import workbench as wb
from workbench.datasets import EcommerceDemo, ecommerce
from workbench.exceptions import ArgumentError
from workbench.plan import TrackingPlan, with_coverage

JOURNEY = ["browse", "product_detail", "add_to_cart", "place_order", "pay_success"]


@pytest.fixture(scope="module")
def demo() -> EcommerceDemo:
    return ecommerce()  # the defaults, as a teacher would use them


@pytest.fixture(scope="module")
def df(demo: EcommerceDemo) -> pd.DataFrame:
    return demo.events.to_pandas()


@pytest.fixture(scope="module")
def log(demo: EcommerceDemo) -> wb.EventLog:
    return demo.log()


# -- determinism and shape ------------------------------------------------------------------------


def test_same_seed_gives_identical_data() -> None:
    a, b = ecommerce(n_users=3_000, seed=11), ecommerce(n_users=3_000, seed=11)
    assert a.events.equals(b.events)
    pd.testing.assert_frame_equal(a.users, b.users)


def test_another_seed_gives_other_data() -> None:
    a, b = ecommerce(n_users=3_000, seed=11), ecommerce(n_users=3_000, seed=12)
    assert not a.events.equals(b.events)


def test_schema(demo: EcommerceDemo) -> None:
    schema = demo.events.schema
    assert schema.names[:4] == ["user_id", "event", "time", "session_id"]
    assert schema.field("user_id").type == pa.int64()
    assert schema.field("event").type == pa.string()
    assert schema.field("time").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("price").type == pa.float64()
    assert schema.field("quantity").type == pa.int64()
    assert list(demo.users.columns) == [
        "user_id",
        "age_band",
        "gender",
        "city_tier",
        "membership",
        "ltv_band",
    ]
    assert len(demo.users) == 20_000
    assert demo.users["user_id"].is_unique


def test_log_and_plan_load(demo: EcommerceDemo, log: wb.EventLog) -> None:
    assert len(log) == demo.events.num_rows
    assert log.session_column == "session_id"
    assert set(log.event_names) <= set(demo.plan().event_names)
    assert demo.plan_path.name == "ecommerce_plan.yaml" and demo.plan_path.is_file()


def test_rows_are_in_time_order_and_inside_the_period(df: pd.DataFrame) -> None:
    assert df["time"].is_monotonic_increasing
    assert df["time"].min() >= pd.Timestamp("2026-09-01", tz="UTC")
    # A session that starts late on the last day may end a few minutes after midnight.
    assert df["time"].max() < pd.Timestamp("2026-10-31 01:00", tz="UTC")


def test_users_keep_platform_and_campaign(df: pd.DataFrame) -> None:
    per_user = df.groupby("user_id")[["platform", "campaign"]].nunique()
    assert (per_user == 1).all().all()
    assert set(df["platform"].unique()) == {"web", "ios", "android"}
    assert df.loc[df["platform"] == "web", "app_version"].isna().all()
    assert df.loc[df["platform"] != "web", "app_version"].notna().all()


def test_sessions_follow_the_journey(df: pd.DataFrame) -> None:
    # Every order comes after a cart in the same session, every payment after its order.
    first = df.groupby(["session_id", "event"])["time"].min().unstack()
    ordered = first[first["place_order"].notna()]
    assert (ordered["add_to_cart"] < ordered["place_order"]).all()
    paid = first[first["pay_success"].notna()]
    assert (paid["place_order"] < paid["pay_success"]).all()
    assert (first["app_open"].dropna() <= first.loc[first["app_open"].notna()].min(axis=1)).all()


def test_cart_items_were_viewed_and_orders_add_up(df: pd.DataFrame) -> None:
    viewed = df[df["event"] == "product_detail"][["session_id", "product_id"]].drop_duplicates()
    carts = df[(df["event"] == "add_to_cart") & df["product_id"].notna()]
    merged = carts.merge(viewed, on=["session_id", "product_id"], how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    # The order amount is what stayed in the cart: added minus removed.
    cart = df[df["event"] == "add_to_cart"]
    removed = df[df["event"] == "remove_from_cart"]
    value = (
        (cart["price"] * cart["quantity"])
        .groupby(cart["session_id"])
        .sum()
        .sub(
            (removed["price"] * removed["quantity"]).groupby(removed["session_id"]).sum(),
            fill_value=0,
        )
    )
    orders = df[df["event"] == "place_order"].set_index("session_id")["amount"]
    assert np.allclose(orders.to_numpy(), value.reindex(orders.index).round(2).to_numpy())
    pays = df[df["event"].isin(["pay_success", "pay_fail"])]
    joined = pays.merge(df[df["event"] == "place_order"], on="order_id", suffixes=("", "_o"))
    assert len(joined) == len(pays)
    assert (joined["amount"] == joined["amount_o"]).all()
    assert (joined["session_id"] == joined["session_id_o"]).all()


def test_ltv_band_agrees_with_payments(demo: EcommerceDemo, df: pd.DataFrame) -> None:
    payers = set(df.loc[df["event"] == "pay_success", "user_id"])
    users = demo.users.set_index("user_id")
    assert set(users.index[users["ltv_band"] != "none"]) == payers


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_users"):
        ecommerce(n_users=0)
    with pytest.raises(ValueError, match="start"):
        ecommerce(n_users=10, start="1 Sep 2026")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"seed": "x"}, "seed must be a whole number, got 'x'"),
        ({"seed": 1.5}, "seed must be a whole number, got 1.5"),
        ({"seed": -1}, "seed must be at least 0, got -1"),
        ({"n_users": "5"}, "n_users must be a whole number, got '5'"),
        ({"n_users": True}, "n_users must be a whole number, got True"),
        ({"days": "30"}, "days must be a whole number, got '30'"),
        ({"days": 3}, "days must be at least 7 so the stories fit in the period, got 3"),
        ({"start": 20260901}, "start must be a date like '2026-09-01', got 20260901"),
    ],
)
def test_arguments_of_the_wrong_kind_name_themselves(arguments: dict, message: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        ecommerce(**{"n_users": 10, **arguments})
    assert str(caught.value) == message


# -- story 1: android payments fail after a release -----------------------------------------------


def _pay_conversion_by_platform(df: pd.DataFrame, window: pd.Timedelta) -> pd.DataFrame:
    """place_order → pay_success within ``window`` of the latest order before it, per platform
    (what windowFunnel does for two steps), computed with pandas."""
    orders = df[df["event"] == "place_order"][["user_id", "time", "platform"]]
    pays = df[df["event"] == "pay_success"][["user_id", "time"]]
    matched = pd.merge_asof(
        pays.sort_values("time"),
        orders[["user_id", "time"]].rename(columns={"time": "t0"}).sort_values("t0"),
        left_on="time",
        right_on="t0",
        by="user_id",
        direction="backward",
    )
    converted = set(matched.loc[matched["time"] - matched["t0"] <= window, "user_id"])
    users = orders.drop_duplicates("user_id")
    users = users.assign(converted=users["user_id"].isin(converted))
    return users.groupby("platform").agg(step1=("user_id", "size"), step2=("converted", "sum"))


def test_story_android_payments_drop_after_release(df: pd.DataFrame) -> None:
    android_versions = df[df["platform"] == "android"].groupby("app_version")["time"].min()
    release = android_versions.max()  # the newest android build seen: when it first appears
    window = pd.Timedelta("1h")
    funnel = wb.Funnel(["place_order", "pay_success"], window="1h")
    share = {}
    for name, part in (("before", df[df["time"] < release]), ("after", df[df["time"] >= release])):
        expected = _pay_conversion_by_platform(part, window)
        result = funnel.run(wb.EventLog(part, session="session_id"))
        table = result.breakdown("platform")
        table = table[table["platform"] != "(missing)"]
        got = table.pivot(index="platform", columns="step", values="users")
        got.index = got.index.astype(str)
        assert got[1].to_dict() == expected["step1"].to_dict()
        assert got[2].to_dict() == expected["step2"].to_dict()
        share[name] = expected["step2"] / expected["step1"]
    drop = share["before"] - share["after"]
    assert drop["android"] > 0.3  # the planted failure
    assert abs(drop["ios"]) < 0.05 and abs(drop["web"]) < 0.05  # the others are unchanged


def test_story_android_failure_is_one_build(df: pd.DataFrame) -> None:
    orders = df[df["event"] == "place_order"].groupby(["platform", "app_version"]).size()
    paid = df[df["event"] == "pay_success"].groupby(["platform", "app_version"]).size()
    rate = (paid / orders).dropna()
    newest = df[df["platform"] == "android"].groupby("app_version")["time"].min().idxmax()
    worst = rate.idxmin()
    assert worst == ("android", newest)
    assert rate.drop(worst).min() > 2 * rate[worst]


# -- story 2: a campaign that never converts ------------------------------------------------------


def test_story_campaign_brings_users_who_never_buy(
    demo: EcommerceDemo, df: pd.DataFrame, log: wb.EventLog
) -> None:
    result = wb.Funnel(JOURNEY, window="1d").run(log)
    table = result.breakdown("campaign")
    table = table[table["campaign"] != "(missing)"]
    got = table.pivot(index="campaign", columns="step", values="users")
    got.index = got.index.astype(str)

    # The same funnel in ClickHouse's windowFunnel, per user, then per campaign.
    # chdb's Python() table function finds `events` by name in this frame.
    events = df.assign(t=df["time"].dt.as_unit("ms").astype("int64"))[  # noqa: F841
        ["user_id", "t", "event", "campaign"]
    ]
    conditions = ", ".join(f"event = '{name}'" for name in JOURNEY)
    levels = chdb.query(
        f"SELECT user_id, any(campaign) AS campaign, "
        f"windowFunnel(86400000)(toUInt64(t), {conditions}) AS level "
        f"FROM Python(events) GROUP BY user_id",
        "DataFrame",
    )
    for step in range(1, len(JOURNEY) + 1):
        expected = levels[levels["level"] >= step].groupby("campaign").size()
        assert got[step].to_dict() == expected.reindex(got.index, fill_value=0).to_dict()

    conversion = got[len(JOURNEY)] / got[1]
    paid_channels = got.drop(index="organic")
    junk = paid_channels[1].idxmax()  # the biggest paid channel at step 1 ...
    assert conversion[junk] < 0.005  # ... converts essentially nobody
    assert conversion.drop(junk).min() > 0.1
    assert got.loc[junk, 1] > 0.15 * got[1].sum()


# -- story 3: a tracking bug on one build ---------------------------------------------------------


def test_story_tracking_bug_found_and_counted_exactly(
    demo: EcommerceDemo, df: pd.DataFrame, log: wb.EventLog
) -> None:
    carts = df[df["event"] == "add_to_cart"]
    missing = carts[carts["product_id"].isna()]
    builds = missing.groupby(["platform", "app_version"]).size()
    assert len(builds) == 1  # one platform, one app version
    platform, version = builds.index[0]
    # Every add_to_cart from that build lost the property, and nothing else did.
    assert len(missing) == int(
        ((carts["platform"] == platform) & (carts["app_version"] == version)).sum()
    )

    report = demo.plan().validate(log)
    assert len(report.table) == 1
    row = report.table.iloc[0]
    assert (row["event"], row["property"], row["violation"]) == (
        "add_to_cart",
        "product_id",
        "missing_required_property",
    )
    assert row["rows"] == len(missing)
    assert row["share"] == pytest.approx(len(missing) / len(carts))
    assert row["first_seen"] == missing["time"].min()
    assert row["last_seen"] == missing["time"].max()
    rows = report.rows("add_to_cart", "product_id").to_pandas()
    assert len(rows) == len(missing)
    assert set(rows["_row"]) == set(missing.index)  # row numbers are positions in the source
    assert (rows["app_version"] == version).all()


def test_story_tracking_bug_beside_the_funnel(
    demo: EcommerceDemo, df: pd.DataFrame, log: wb.EventLog
) -> None:
    plan = demo.plan()
    funnel = wb.Funnel(JOURNEY, window="1d", labels=plan.display_names("en"))
    result = funnel.run(log)
    cov = plan.funnel_coverage(funnel, log)
    for step, event in enumerate(JOURNEY, start=1):
        rows = df[df["event"] == event]
        bad = rows["product_id"].isna().sum() if event == "add_to_cart" else 0
        line = cov[cov["step"] == step].iloc[0]
        assert line["rows"] == len(rows)
        assert line["violating_rows"] == bad
    table = with_coverage(result, cov)
    assert table["label"].tolist()[2] == "Added to cart"
    cart = table[table["step"] == 3].iloc[0]
    assert cart["plan_violation_share"] == pytest.approx(
        df.loc[df["event"] == "add_to_cart", "product_id"].isna().mean()
    )
    assert cart["plan_top_violation"] == "add_to_cart.product_id: missing_required_property"
    assert (table.loc[table["step"] != 3, "plan_violation_share"] == 0).all()


def test_inferred_plan_is_close_to_the_shipped_one(demo: EcommerceDemo, log: wb.EventLog) -> None:
    draft = TrackingPlan.infer(log)
    shipped = demo.plan()
    assert set(draft.event_names) == set(shipped.event_names) - {"apply_coupon"}
    assert set(draft.common_properties) == {"platform", "app_version", "campaign"}
    # The bug makes product_id optional on add_to_cart in the draft: a reviewer must notice.
    assert not draft.events["add_to_cart"].properties["product_id"].required
    assert draft.events["product_detail"].properties["product_id"].required
    assert draft.validate(log).ok
