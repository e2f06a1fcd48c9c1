"""The data mirror fixture: a missing mirror skips the data tests locally and fails them on CI."""

from __future__ import annotations

import pytest
from factories import MIRROR_MARKER, find_mirror, in_ci


def test_a_missing_mirror_skips_locally(tmp_path):
    with pytest.raises(pytest.skip.Exception, match="no data mirror"):
        find_mirror({"CONDBENCH_MIRROR": str(tmp_path)})
    with pytest.raises(pytest.skip.Exception):
        find_mirror({"CONDBENCH_MIRROR": str(tmp_path), "CI": "false"})


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_missing_mirror_fails_on_ci(tmp_path, ci):
    with pytest.raises(pytest.fail.Exception, match="CI needs the mirror"):
        find_mirror({"CONDBENCH_MIRROR": str(tmp_path), "CI": ci})


def test_a_present_mirror_is_returned(tmp_path):
    (tmp_path / MIRROR_MARKER).mkdir()
    assert find_mirror({"CONDBENCH_MIRROR": str(tmp_path), "CI": "true"}) == tmp_path.resolve()
    assert in_ci({"CI": "true"}) and not in_ci({}) and not in_ci({"CI": "0"})
