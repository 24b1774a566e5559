"""The group file and the profiles: bad input is one clear UserError."""
import pytest

from helpers.errors import UserError
from helpers.group import load_group
from helpers.profiles import PROFILES, settings


def test_group_file_is_read(group_file):
    group = load_group(group_file)
    assert [m.name for m in group.members] == ["Jürgen Groß", "Ada O'Neil & Co"]
    assert group.members[0].student_id == "4242" and group.members[1].student_id is None
    assert group.willing_to_present == {"3.1": True, "3.2": False, "3.3": True, "3.4": True}


@pytest.mark.parametrize("text, message", [
    ("members: [", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    ("members: []\nwilling_to_present: {}", "'members' must be a list"),
    ("members: [{name: A}, {name: B}, {name: C}, {name: D}, {name: E}]\n", "at most 4 students"),
    ("members: [{student_id: 1}]\n", "member 1 has no 'name'"),
    ("members: [A]\nwilling_to_present: {'3.1': yes, '3.2': yes, '3.3': yes}", "missing 3.4"),
    ("members: [A]\nwilling_to_present: {'3.1': yes, '3.2': yes, '3.3': yes, '3.4': maybe}", "3.4 is 'maybe'"),
    ("members: [A]\nwilling_to_present: {'3.1': yes, '3.2': yes, '3.3': yes, '3.4': no, '3.5': yes}", "unknown 3.5"),
])
def test_malformed_group_file(tmp_path, text, message):
    path = tmp_path / "group.yml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_group(path)


def test_missing_group_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_group(tmp_path / "nope.yml")


def test_the_committed_group_file_is_valid():
    from helpers.profiles import REPO_ROOT
    assert load_group(REPO_ROOT / "group.yml").members


def test_profiles_cover_every_notebook_and_share_the_cifar_settings():
    for profile in PROFILES.values():
        assert set(profile) == {"3.1", "3.2", "3.3", "3.4"}
        shared = {k: v for k, v in profile["3.3"].items() if k in profile["3.4"]}
        assert shared == {k: profile["3.4"][k] for k in shared}  # 3.3's CNN runs are 3.4's SGD row
    assert PROFILES["full"]["3.2"]["epochs"] == 30 and PROFILES["full"]["3.4"]["epochs"] == 30
    assert len(PROFILES["full"]["3.4"]["optimizers"]) >= 3 and {"SGD", "Adam"} <= set(PROFILES["full"]["3.4"]["optimizers"])


def test_settings_overrides_and_errors(tmp_path):
    cfg = settings("3.2", "full", {"epochs": 3}, data_root=tmp_path)
    assert cfg.epochs == 3 and cfg.data_root == tmp_path and not cfg.smoke
    with pytest.raises(UserError, match="unknown profile 'fast'"):
        settings("3.2", "fast")
    with pytest.raises(UserError, match="unknown override"):
        settings("3.2", "full", {"epoch": 3})
