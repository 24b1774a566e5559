"""The group's details (names, student IDs, 3.5 declarations) from the small file the group edits."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import UserError

EXERCISES = ("3.1", "3.2", "3.3", "3.4")
MAX_MEMBERS = 4  # "At most four students work jointly" (the sheet)
YES_NO = {"yes": True, "no": False, "true": True, "false": False}  # as YAML's yes/no, quoted or not, any case


@dataclass(frozen=True)
class Member:
    name: str
    student_id: str | None = None


@dataclass(frozen=True)
class Group:
    members: tuple[Member, ...]
    willing_to_present: dict[str, bool]


def load_group(path: str | Path) -> Group:
    """Read and validate the group file; any problem is one UserError naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"group file {path} not found: copy group.yml from the repository and fill in your names")
    try:
        # Every value as the text it is: a student ID 0012345 stays that (YAML 1.1 reads an octal 5349), a name
        # "No" or "Null" stays a name; yes and no are read below.
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except yaml.YAMLError as err:
        raise UserError(f"group file {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise UserError(f"group file {path} must be a mapping with 'members' and 'willing_to_present'")
    return Group(members=_members(raw.get("members"), path),
                 willing_to_present=_declarations(raw.get("willing_to_present"), path))


def _members(raw, path: Path) -> tuple[Member, ...]:
    if not isinstance(raw, list) or not raw:
        raise UserError(f"group file {path}: 'members' must be a list of 1 to {MAX_MEMBERS} entries with a 'name'")
    if len(raw) > MAX_MEMBERS:
        raise UserError(f"group file {path}: {len(raw)} members, but at most {MAX_MEMBERS} students may work jointly")
    members = []
    for i, entry in enumerate(raw, start=1):
        if isinstance(entry, str):
            entry = {"name": entry}
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or _empty(name):
            raise UserError(f"group file {path}: member {i} has no 'name'")
        student_id = entry.get("student_id")
        if student_id is not None and not isinstance(student_id, str):
            raise UserError(f"group file {path}: member {i}'s student_id is {student_id!r}; write the ID, e.g. 3700001")
        members.append(Member(name.strip(), None if student_id is None or _empty(student_id) else student_id.strip()))
    return tuple(members)


def _empty(text: str) -> bool:
    """YAML's ways of writing nothing (the file is read as text: null and ~ come as they are typed)."""
    return text.strip().lower() in ("", "~", "null")


def _declarations(raw, path: Path) -> dict[str, bool]:
    if not isinstance(raw, dict):
        raise UserError(f"group file {path}: 'willing_to_present' must map each of {', '.join(EXERCISES)} to yes or no")
    given = dict(raw)
    unknown = sorted(set(given) - set(EXERCISES))
    missing = [ex for ex in EXERCISES if ex not in given]
    if unknown or missing:
        raise UserError(f"group file {path}: 'willing_to_present' needs exactly {', '.join(EXERCISES)}"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    for ex, value in given.items():
        if not isinstance(value, str) or value.lower() not in YES_NO:
            raise UserError(f"group file {path}: willing_to_present {ex} is {value!r}; write yes or no")
    return {ex: YES_NO[given[ex].lower()] for ex in EXERCISES}
