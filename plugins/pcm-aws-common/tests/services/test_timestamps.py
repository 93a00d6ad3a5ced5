"""The factory's timestamp parser: the instant botocore's parser gives, without dateutil."""

from __future__ import annotations

from datetime import UTC

import pytest
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from pcm_aws_common.services.timestamps import parse_timestamp

FORMS = [
    0,
    1_733_390_000,
    1_733_390_000.123,
    "1733390000.5",
    "2026-12-05T07:00:00Z",
    "2026-12-05T07:00:00.123+02:00",
    "2026-12-05T07:00:00",
    "2026-12-05",
    "Sat, 05 Dec 2026 07:00:00 GMT",
    "20261205T070000Z",
]


@pytest.mark.parametrize("value", FORMS, ids=repr)
def test_every_form_gives_the_instant_botocore_gives(value):
    ours, theirs = parse_timestamp(value), botocore_parse_timestamp(value)

    assert ours == theirs
    assert (ours.tzinfo is None) == (theirs.tzinfo is None)


def test_epoch_seconds_are_in_utc():
    assert parse_timestamp(1_733_390_000.5).tzinfo is UTC


@pytest.mark.parametrize("value", ["nan", "inf", "not a date", "2026-13-45T00:00:00Z"])
def test_what_botocore_refuses_is_refused_the_same_way(value):
    with pytest.raises((ValueError, RuntimeError)) as theirs:
        botocore_parse_timestamp(value)
    with pytest.raises(type(theirs.value)) as ours:
        parse_timestamp(value)
    assert str(ours.value) == str(theirs.value)
