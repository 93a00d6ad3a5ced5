"""Encoded queries are built from typed values; user text can never add a condition."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pcm_servicenow_cmdb.query import MAX_SEARCH_TERMS, Query, search_terms


def test_an_empty_query_is_the_empty_string():
    assert str(Query()) == ""
    assert not Query()


def test_conditions_are_joined_with_carets_in_order():
    query = Query().eq("state", -1).ne("approval", "rejected").is_empty("on_hold")
    assert str(query) == "state=-1^approval!=rejected^on_holdISEMPTY"


def test_comparisons_use_servicenows_operators():
    query = Query().gt("a", 1).ge("b", 2).lt("c", 3).le("d", 4).is_not_empty("e")
    assert str(query) == "a>1^b>=2^c<3^d<=4^eISNOTEMPTY"


def test_the_builder_is_immutable():
    base = Query().eq("active", "true")
    narrowed = base.eq("state", -1)
    assert str(base) == "active=true"
    assert str(narrowed) == "active=true^state=-1"


def test_datetimes_become_utc_in_servicenows_format():
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 12, 5, 10, 30, 0, tzinfo=paris)
    assert str(Query().ge("start_date", moment)) == "start_date>=2026-12-05 09:30:00"


def test_a_naive_datetime_is_taken_as_utc():
    assert (
        str(Query().lt("end_date", datetime(2026, 1, 2, 3, 4, 5))) == "end_date<2026-01-02 03:04:05"
    )


def test_booleans_become_true_and_false():
    assert str(Query().eq("on_hold", False).eq("active", True)) == "on_hold=false^active=true"


def test_in_joins_values_with_commas():
    assert str(Query().in_("state", [-1, -2, "0"])) == "stateIN-1,-2,0"


def test_or_eq_adds_an_alternative_to_the_previous_condition():
    query = Query().eq("type", "normal").eq("state", -1).or_eq("state", -2)
    assert str(query) == "type=normal^state=-1^ORstate=-2"


def test_or_eq_needs_a_condition_before_it():
    with pytest.raises(ValueError, match="needs a condition before it"):
        Query().or_eq("state", -1)


def test_ordering_comes_after_the_conditions():
    query = Query().order_by("start_date", desc=True).eq("active", "true").order_by("number")
    assert str(query) == "active=true^ORDERBYDESCstart_date^ORDERBYnumber"


def test_like_and_starts_with():
    query = Query().like("short_description", "kernel patch").starts_with("number", "CHG00")
    assert str(query) == "short_descriptionLIKEkernel patch^numberSTARTSWITHCHG00"


def test_dot_walked_fields_are_allowed():
    assert str(Query().eq("task.number", "CHG0030001")) == "task.number=CHG0030001"


@pytest.mark.parametrize(
    "field",
    ["", "State", "state^ORactive", "1st", "state=1", "a b", "name LIKE", "na-me", "x\n"],
)
def test_field_names_are_validated(field):
    with pytest.raises(ValueError, match="not a ServiceNow field name"):
        Query().eq(field, "x")


@pytest.mark.parametrize("method", ["eq", "ne", "gt", "ge", "lt", "le", "or_eq"])
def test_a_caret_in_an_exact_value_is_refused_naming_the_field(method):
    base = Query().eq("active", "true")
    with pytest.raises(ValueError, match=r"'number' contains '\^'"):
        getattr(base, method)("number", "CHG1^ORactive=true")


def test_control_characters_in_an_exact_value_are_refused():
    with pytest.raises(ValueError, match="control characters"):
        Query().eq("name", "web\n01")


@pytest.mark.parametrize("values", [["a,b"], ["ok", "x^ORstate=3"]], ids=["comma", "caret"])
def test_in_refuses_values_that_would_split(values):
    with pytest.raises(ValueError, match="'state'"):
        Query().in_("state", values)


def test_in_needs_a_value():
    with pytest.raises(ValueError, match="at least one value"):
        Query().in_("state", [])


def test_values_of_other_types_are_refused():
    with pytest.raises(TypeError, match="must be str, int or datetime"):
        Query().eq("state", 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x^ORactive=true", "short_descriptionLIKEx ORactive=true"),
        ("^NQsys_idISNOTEMPTY", "short_descriptionLIKENQsys_idISNOTEMPTY"),
        ("a^^ORDERBYname", "short_descriptionLIKEa ORDERBYname"),
        ("tab\there\nnewline\x00nul", "short_descriptionLIKEtab here newline nul"),
        ("state=3", "short_descriptionLIKEstate=3"),
    ],
)
def test_hostile_free_text_stays_one_like_condition(text, expected):
    query = Query().like("short_description", text)
    assert str(query) == expected
    assert "^" not in str(query)


def test_hostile_text_in_starts_with_stays_one_condition():
    assert str(Query().starts_with("name", "web^ORname=db")) == "nameSTARTSWITHweb ORname=db"


def test_free_text_with_nothing_left_is_refused():
    with pytest.raises(ValueError, match="nothing is left"):
        Query().like("name", " ^ \n")


def test_search_terms_are_the_words_without_separators_or_repeats():
    assert search_terms("  Patch  kernel^ORactive=true patch\tweb01 ") == [
        "Patch",
        "kernel",
        "ORactive=true",
        "web01",
    ]


def test_search_terms_of_blank_text_are_none():
    assert search_terms(" ^^ \n ") == []


def test_search_terms_are_capped():
    words = " ".join(f"w{i}" for i in range(MAX_SEARCH_TERMS + 5))
    assert len(search_terms(words)) == MAX_SEARCH_TERMS


def test_each_search_term_makes_one_like_condition():
    query = Query()
    for term in search_terms("db^ORactive=true web"):
        query = query.like("short_description", term)
    assert str(query).split("^") == [
        "short_descriptionLIKEdb",
        "short_descriptionLIKEORactive=true",
        "short_descriptionLIKEweb",
    ]


def test_utc_datetimes_pass_through():
    moment = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert str(Query().le("end_date", moment)) == "end_date<=2026-12-31 23:59:59"
