"""The group file and the profiles: bad input is one clear UserError."""
import pytest

from helpers.errors import UserError
from helpers.group import load_group
from helpers.notebook import settings_line
from helpers.profiles import KNOWN, PROFILES, changed_settings, settings, short_of_sheet


def test_group_file_is_read(group_file):
    group = load_group(group_file)
    assert [m.name for m in group.members] == ["Jürgen Groß", "Ada O'Neil & Co"]
    assert group.members[0].student_id == "4242" and group.members[1].student_id is None
    assert group.willing_to_present == {"3.1": True, "3.2": False, "3.3": True, "3.4": True}


def test_group_file_values_are_read_as_typed(tmp_path):
    """A student ID with a leading 0 unquoted is not YAML's octal number, a quoted "yes" is yes, a name is a name."""
    path = tmp_path / "group.yml"
    path.write_text("members:\n  - name: No\n    student_id: 0012345\n  - name: Nullah\n    student_id: null\n"
                    "  - name: Tilde\n    student_id: ~\n"
                    "willing_to_present: {3.1: Yes, '3.2': \"yes\", 3.3: false, 3.4: NO}\n", encoding="utf-8")
    group = load_group(path)
    assert [(m.name, m.student_id) for m in group.members] == [("No", "0012345"), ("Nullah", None), ("Tilde", None)]
    assert group.willing_to_present == {"3.1": True, "3.2": True, "3.3": False, "3.4": False}


@pytest.mark.parametrize("text, message", [
    ("members: [", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    ("members: []\nwilling_to_present: {}", "'members' must be a list"),
    ("members: [{name: A}, {name: B}, {name: C}, {name: D}, {name: E}]\n", "at most 4 students"),
    ("members: [{student_id: 1}]\n", "member 1 has no 'name'"),
    ("members: [{name: null}]\n", "member 1 has no 'name'"),
    ("members: [{name: A, student_id: [1]}]\n", "member 1's student_id is"),
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


def test_profiles_cover_every_notebook_and_share_the_cifar_settings(tmp_path):
    for profile in PROFILES:
        assert set(PROFILES[profile]) == {"3.1", "3.2", "3.3", "3.4"}
        s3, s4 = settings("3.3", profile, data_root=tmp_path), settings("3.4", profile, data_root=tmp_path)
        shared = set(KNOWN["3.3"]) & set(KNOWN["3.4"])
        assert {k: getattr(s3, k) for k in shared} == {k: getattr(s4, k) for k in shared}  # 3.3's CNN runs are 3.4's SGD row
    full = {ex: settings(ex, "full", data_root=tmp_path) for ex in ("3.2", "3.4")}
    assert full["3.2"].epochs == 30 and full["3.4"].epochs == 30 and full["3.2"].lr == 0.1 and full["3.2"].batch_size == 64
    assert len(full["3.4"].optimizers) >= 3 and {"SGD", "Adam"} <= set(full["3.4"].optimizers)


def test_settings_overrides_and_errors(tmp_path):
    cfg = settings("3.2", "full", {"epochs": 3}, data_root=tmp_path)
    assert cfg.epochs == 3 and cfg.data_root == tmp_path and not cfg.smoke
    with pytest.raises(UserError, match="unknown profile 'fast'"):
        settings("3.2", "fast")
    with pytest.raises(UserError, match="unknown override"):
        settings("3.2", "full", {"epoch": 3})


def test_a_setting_changed_from_the_profile_is_marked(tmp_path):
    # The chapters' prose names the sheet's values (30 epochs); the settings line must show what ran instead.
    assert changed_settings(settings("3.3", "full", data_root=tmp_path)) == {}
    assert changed_settings(settings("3.3", "full", {"epochs": 30, "lrs": [0.1, 0.03, 0.01, 0.003, 0.001]},
                                     data_root=tmp_path)) == {}  # an override equal to the profile's changes nothing
    cfg = settings("3.4", "full", {"epochs": 10, "optimizers": ["SGD", "Adam"], "train_subset": 3000}, data_root=tmp_path)
    assert changed_settings(cfg) == {"epochs": (10, 30), "train_subset": (3000, None),
                                     "optimizers": (("SGD", "Adam"), ("SGD", "Adam", "RMSprop", "Adagrad"))}
    line = settings_line(cfg)
    assert "**epochs 10** (profile full: 30)" in line and "**optimizers SGD, Adam** (profile full: SGD, Adam," in line
    assert "**training subset 3000** (profile full: none)" in line and "; seeds 3." in line  # unchanged: plain
    smoke = settings_line(settings("3.2", "smoke", {"epochs": 1}, data_root=tmp_path))
    assert "**epochs 1** (profile smoke: 2)" in smoke and "**" not in smoke.replace("**epochs 1**", "")
    assert settings_line(settings("3.1", "full", data_root=tmp_path)) == ""  # 3.1 has no settings


def test_settings_short_of_the_sheet_are_named(tmp_path):
    assert all(short_of_sheet(settings(ex, "full", data_root=tmp_path)) == [] for ex in ("3.1", "3.2", "3.3", "3.4"))
    cfg = settings("3.4", "full", {"epochs": 10, "optimizers": ["SGD", "Adam"], "train_subset": 3000}, data_root=tmp_path)
    assert short_of_sheet(cfg) == ["10 epochs, the sheet asks for 30",
                                   "optimizers SGD, Adam, the sheet asks for at least 3, SGD and Adam among them",
                                   "a training subset of 3,000 images, not the whole training set"]
    assert short_of_sheet(settings("3.4", "full", {"optimizers": ["Adam", "RMSprop", "Adagrad"]}, data_root=tmp_path))
    assert short_of_sheet(settings("3.2", "full", {"devices": ["cpu"]}, data_root=tmp_path)) == [
        "no GPU run, the sheet asks for one on the CPU and one on the GPU"]
    assert short_of_sheet(settings("3.3", "full", {"epochs": 30, "test_subset": 500}, data_root=tmp_path)) == [
        "a test subset of 500 images, not the whole test set"]


@pytest.mark.parametrize("overrides", [{"val_size": 0}, {"val_size": -5}, {"val_size": 0.5}, {"val_size": True}])
def test_the_learning_rate_chapters_need_a_validation_split(tmp_path, overrides):
    with pytest.raises(UserError, match="val_size must be a positive number of images for 3.3"):
        settings("3.3", "full", overrides, data_root=tmp_path)


@pytest.mark.parametrize("overrides, message", [({"devices": "cpu"}, "devices must be a non-empty list"),
                                                ({"seeds": 0}, "seeds must be a positive integer"),
                                                ({"seeds": True}, "seeds must be a positive integer"),
                                                ({"lrs": []}, "lrs must be a non-empty list"),
                                                ({"lrs": [0.1, 0.01, 0.1]}, "lrs lists 0.1 more than once"),
                                                ({"optimizers": ["SGD", "sgd"]}, "optimizers lists SGD more than once"),
                                                ({"optimizers": [5]}, "named by a string")])
def test_bad_override_values_are_one_clear_error(tmp_path, overrides, message):
    exercise = "3.2" if "devices" in overrides else "3.4"
    with pytest.raises(UserError, match=message):
        settings(exercise, "full", overrides, data_root=tmp_path)


def test_optimizer_names_are_torchs_in_any_case(tmp_path):
    """"adam" is Adam: the same stored runs, legends and the sheet's SGD-and-Adam check as "Adam"."""
    s = settings("3.4", "full", {"optimizers": ["sgd", "adam", "rmsPROP"]}, data_root=tmp_path)
    assert s.optimizers == ("SGD", "Adam", "RMSprop") and short_of_sheet(s) == []
    assert settings("3.2", "full", {"optimizer": "adagrad"}, data_root=tmp_path).optimizer == "Adagrad"


def test_overrides_from_the_command_line_name_optimizers_as_torch_does():
    """OVERRIDES='{"optimizers": ["sgd", "adam"]}' is the same plan as SGD and Adam: one job name, one title line."""
    from helpers.jobs import job_name
    from helpers.profiles import parse_overrides
    typed = parse_overrides('{"optimizers": ["sgd", "adam"], "optimizer": "rmsprop", "epochs": 3}')
    assert typed == {"optimizers": ["SGD", "Adam"], "optimizer": "RMSprop", "epochs": 3}
    assert job_name("full", typed) == job_name("full", {"optimizers": ["SGD", "Adam"], "optimizer": "RMSprop",
                                                        "epochs": 3})
    with pytest.raises(UserError, match="unknown optimizer 'adamm'"):
        parse_overrides('{"optimizers": ["adamm"]}')


def test_settings_are_typed_and_frozen(tmp_path):
    import dataclasses
    s = settings("3.4", "smoke", {"optimizers": ["Adam"]}, data_root=tmp_path)
    assert s.optimizers == ("Adam",) and s.smoke and s.seeds == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs = 3
