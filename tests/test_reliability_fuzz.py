"""Property: whatever preset text or overrides come in, the loader (read_toml + apply_overrides +
validate) either accepts them or raises InvalidExperiment with problems in words; never anything
else."""

import math
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from workbench.config import SECTIONS, Experiment, InvalidExperiment, Problem, validate
from workbench.presets import apply_overrides, read_toml

SECTION_KEYS = {
    name: sorted({f for m in (entry.values() if isinstance(entry, dict) else [entry]) for f in m.model_fields})
    for name, entry in SECTIONS.items()
}
NAMES = sorted({n for entry in SECTIONS.values() if isinstance(entry, dict) for n in entry}
               | {"digits", "moons", "diabetes", "nope", "", "custom"})
KEYS = sorted({k for keys in SECTION_KEYS.values() for k in keys} | set(Experiment.model_fields)
              | {"lr", "epochs", "x", "", "name"})

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 16, 10**6, 10**7, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-3, 0.5, 0.999, 1.0, 1e30, -0.0]),
    st.booleans(),
    st.sampled_from(NAMES + ["cpu", "cuda:0", "auto", "mean", "sum", "batchmean", "relu", "x.py:Net"]),
    st.text(max_size=12),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS), inner, max_size=3), max_leaves=5)


@st.composite
def sections(draw):
    """A section table that is mostly plausible: a real name, real keys, any values."""
    section = draw(st.sampled_from(sorted(SECTION_KEYS)))
    keys = SECTION_KEYS[section]
    table = draw(st.dictionaries(st.sampled_from(keys + ["bogus"]), values, max_size=4))
    if isinstance(SECTIONS[section], dict) and draw(st.booleans()):
        table["name"] = draw(st.sampled_from(sorted(SECTIONS[section]) + ["Nope"]))
    return section, table


BASE = read_toml(Path(__file__).resolve().parent.parent / "presets" / "digits-mlp.toml")
plausible = st.one_of(st.integers(min_value=-2, max_value=300), st.floats(min_value=-0.5, max_value=2.0),
                      st.booleans(), st.sampled_from(NAMES + ["cpu", "auto", "mean", "sum", "tanh"]),
                      st.lists(st.integers(min_value=0, max_value=300), max_size=3))


@st.composite
def presets(draw):
    """Half the time the shipped preset with a few fields changed (so that many are accepted and
    round-trip), otherwise random sections."""
    if draw(st.booleans()):
        raw = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            section = draw(st.sampled_from(sorted(SECTION_KEYS)))
            table = raw.setdefault(section, {})  # the preset leaves out [scheduler] and others
            key = draw(st.sampled_from(sorted(table) + SECTION_KEYS[section]))
            old = table.get(key)
            same_kind = (st.booleans() if isinstance(old, bool) else st.integers(1, 300) if isinstance(old, int)
                         else st.floats(0.0, 1.0) if isinstance(old, float) else plausible)
            table[key] = draw(st.one_of(same_kind, plausible))
        return raw
    raw = dict(draw(st.lists(sections(), max_size=5)))
    raw.update(draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=2)))
    return raw


override_values = st.one_of(
    scalars.map(lambda v: "nan" if isinstance(v, float) and math.isnan(v) else tomli_w.dumps({"v": v})[4:].strip()),
    st.text(alphabet="[]{}=,.'\"0123456789eE+-naif truels", max_size=10),
    st.sampled_from(NAMES),
)


@st.composite
def overrides(draw):
    section = draw(st.sampled_from(sorted(SECTION_KEYS) + ["seed", "name", "nope"]))
    if section in SECTION_KEYS:
        key = section + "." + draw(st.sampled_from(SECTION_KEYS[section] + ["bogus", "x.y", ""]))
    else:
        key = section
    sep = draw(st.sampled_from(["=", "=", "=", "", " = "]))
    return key + sep + draw(override_values)


toml_text = st.one_of(
    presets().map(lambda raw: _dumps(raw)),
    st.text(alphabet='[]{}=,."\'#\n abcdefghijklmnoprstuvwxyz_0123456789', max_size=120),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)


def _dumps(raw: dict) -> str:
    try:
        return tomli_w.dumps(raw)
    except (TypeError, ValueError):  # values TOML cannot hold: the text is then simply not TOML
        return repr(raw)


def check(load):
    try:
        exp = load()
    except InvalidExperiment as e:
        assert e.problems, "rejected without a problem"
        event("rejected: " + e.problems[0].path.split(".")[0])
        for p in e.problems:
            assert isinstance(p, Problem) and isinstance(p.message, str) and p.message
            assert isinstance(p.path, str) and isinstance(str(p), str)
        return None
    assert isinstance(exp, Experiment)
    event("accepted")
    # an accepted experiment round-trips through TOML to itself
    assert validate(read_back(exp)) == exp
    return exp


def read_back(exp):
    import tomllib

    return tomllib.loads(tomli_w.dumps(exp.to_dict()))


@pytest.fixture(scope="module")
def preset_file(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "preset.toml"


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=toml_text, extra=st.lists(overrides(), max_size=4))
def test_loader_accepts_or_rejects_with_problems(preset_file, text, extra):
    path = preset_file
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    check(lambda: validate(apply_overrides(read_toml(path), extra)))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=presets(), extra=st.lists(overrides(), max_size=4))
def test_validate_accepts_or_rejects_plain_data(raw, extra):
    check(lambda: validate(apply_overrides(raw, extra)))
