"""Presets: TOML files that hold a whole experiment; the search path; KEY=VALUE overrides.

Loading a preset only parses TOML and validates it (it never runs code). Saving writes to a temp
file in the same folder, fsyncs and renames, so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .problems import InvalidExperiment, Problem

if TYPE_CHECKING:  # config (pydantic) loads when a preset is validated, after the app's 1st frame
    from .config import Experiment

MAX_PRESET_BYTES = 1_000_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def repo_presets() -> Path:
    return Path(__file__).resolve().parent.parent / "presets"


def user_presets() -> Path:
    if env := os.environ.get("WORKBENCH_PRESETS"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "workbench" / "presets"


def search_path() -> list[Path]:
    """Where preset names are looked up, in order: the shipped presets, then the user's."""
    return [repo_presets(), user_presets()]


def list_presets() -> dict[str, Path]:
    """Preset name -> file; a user preset of the same name as a shipped one comes second."""
    found: dict[str, Path] = {}
    for folder in search_path():
        if folder.is_dir():
            for f in sorted(folder.glob("*.toml")):
                found.setdefault(f.stem, f)
    return found


def resolve(preset: str) -> Path:
    """A path to a .toml file, or the name of a preset on the search path."""
    p = Path(os.path.expanduser(preset))  # Path.expanduser raises for an unknown ~user
    if p.suffix == ".toml" or os.sep in preset or p.exists():
        if not p.exists():
            raise InvalidExperiment([Problem("", f"no such preset file: {preset}")])
        if p.is_dir():
            config = p / "config.toml"  # a run folder
            if config.is_file():
                return config
            raise InvalidExperiment([Problem("", f"{preset} is a folder, not a preset file")])
        return p
    presets = list_presets()
    if preset in presets:
        return presets[preset]
    import difflib

    close = difflib.get_close_matches(preset, list(presets), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = ", ".join(str(d) for d in search_path())
    raise InvalidExperiment([Problem("", f"no preset named {preset!r}{hint} (looked in {where})")])


def read_toml(path: Path) -> dict:
    """Parse a TOML file into plain data; every failure becomes a Problem naming the file."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # /dev/zero, a FIFO: never read endlessly
            raise InvalidExperiment([Problem("", f"{path}: not a regular file")])
        with open(path, "rb") as f:
            data = f.read(MAX_PRESET_BYTES + 1)
    except OSError as e:
        raise InvalidExperiment([Problem("", f"cannot read {path}: {e.strerror or e}")]) from None
    if len(data) > MAX_PRESET_BYTES:
        raise InvalidExperiment([Problem("", f"{path}: larger than {MAX_PRESET_BYTES:,} bytes, too large for a preset")])
    if b"\0" in data:
        raise InvalidExperiment([Problem("", f"{path}: not a text file (it holds NUL bytes)")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidExperiment([Problem("", f"{path}: not a text file (invalid UTF-8)")]) from None
    if not text.strip():
        raise InvalidExperiment([Problem("", f"{path}: the file is empty")])
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidExperiment([Problem("", f"{path}: TOML syntax error: {e}")]) from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise InvalidExperiment([Problem("", f"{path}: values nested too deeply")]) from None
    if not raw:  # only comments: a preset that sets nothing is a mistake, not the defaults
        raise InvalidExperiment([Problem("", f"{path}: the file is empty (it sets nothing)")])
    return raw


def load(preset: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Load, apply overrides, validate. Raises InvalidExperiment.

    Relative `model.path` and `data.path` in the file resolve against the preset's folder; those of
    overrides against the current folder (both become absolute, so a run folder's config.toml
    names the same files from anywhere)."""
    from .config import validate

    raw = read_preset(preset)
    if overrides:
        raw = anchor_paths(apply_overrides(raw, overrides), Path.cwd())
    return validate(raw)


def read_preset(preset: str | Path) -> dict:
    """A preset's plain data, its relative file paths resolved against the preset's folder."""
    path = resolve(str(preset))
    return anchor_paths(read_toml(path), path.resolve().parent)


def anchor_paths(raw: dict, base: Path) -> dict:
    """`model.path` and `data.path` made absolute against `base` where they are relative file
    paths ('file.py:Class' of a custom model or dataset, a data file or folder); module paths
    ('pkg.module:Class'), absolute and ~ paths are left as they are. Changes `raw` in place."""
    for section in ("model", "data"):
        node = raw.get(section)
        if not isinstance(node, dict) or not isinstance(node.get("path"), str):
            continue
        path = node["path"]
        if node.get("name") == "custom":  # 'where:Name'; only a .py file is a path
            where, sep, attr = path.rpartition(":")
            if sep and where.endswith(".py"):
                node["path"] = f"{_anchor(where, base)}:{attr}"
        elif section == "data":
            node["path"] = _anchor(path, base)
    return raw


def _anchor(path: str, base: Path) -> str:
    if not path or path.startswith("~") or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def parse_value(text: str) -> Any:
    """A TOML value (numbers, booleans, arrays, quoted strings) or, failing that, a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b=value` overrides. A section's `name` is applied first and resets that section
    to the new class's defaults (as Hydra's config groups do), so old arguments never linger."""
    from .config import SECTIONS

    raw = copy.deepcopy(raw)
    parsed: list[tuple[list[str], Any]] = []
    problems: list[Problem] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        keys = key.strip().split(".")
        if not sep or not all(k.strip() for k in keys):
            problems.append(Problem("", f"override {item!r} must look like key=value, e.g. optimizer.lr=3e-4"))
            continue
        parsed.append(([k.strip() for k in keys], parse_value(value.strip())))
    if problems:
        raise InvalidExperiment(problems)
    names_first = sorted(parsed, key=lambda kv: not (len(kv[0]) == 2 and kv[0][1] == "name"))
    for keys, value in names_first:
        if len(keys) == 2 and keys[1] == "name" and isinstance(SECTIONS.get(keys[0]), dict):
            section = raw.get(keys[0])
            if not (isinstance(section, dict) and section.get("name") == value):
                raw[keys[0]] = {"name": value}
            continue
        node = raw
        for k in keys[:-1]:
            child = node.setdefault(k, {})
            if not isinstance(child, dict):
                raise InvalidExperiment([Problem(".".join(keys), f"{k!r} is not a section")])
            node = child
        node[keys[-1]] = value
    return raw


def dumps(exp: Experiment) -> str:
    import tomli_w  # (writing only: not on the app's way to its first frame)

    return tomli_w.dumps(exp.to_dict())


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, rename over it, fsync the folder.

    The new file gets the old one's permissions, or those a plain open() gives (0o666 less the
    umask, applied by the kernel as it creates the temp file: the process-wide umask is never
    read or changed here, so threads writing at the same time cannot race on it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old_mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        old_mode = None
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            if old_mode is not None:
                os.fchmod(f.fileno(), old_mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new hidden file `.NAME.RANDOM.tmp` beside `path`, opened for writing with mode 0o666."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {path}")


def check_name(name: str) -> str:
    """A preset name that stays inside the preset folder, or InvalidExperiment."""
    stem = name[:-5] if name.endswith(".toml") else name
    if not NAME_RE.fullmatch(stem) or ".." in stem:  # fullmatch: `$` would let "x\n" through
        raise InvalidExperiment([Problem(
            "", f"preset name {name!r}: use letters, digits, '.', '_' and '-' (no paths, at most 100)"
        )])
    return stem


def save(exp: Experiment, name: str, folder: Path | None = None, overwrite: bool = False) -> Path:
    """Save to the user's preset folder (or `folder`); refuses to overwrite unless asked."""
    stem = check_name(name)
    path = (folder or user_presets()) / f"{stem}.toml"
    if path.exists() and not overwrite:
        raise FileExistsError(str(path))
    atomic_write(path, dumps(exp).encode())
    return path
