"""The offline scenario fixtures are genuine Pacemaker output.

tests/fixtures/scenarios/<name>/ is produced by tests/fixtures/make_offline_fixtures.sh
with the real Pacemaker 2.1.5 tools.  These tests prove it:

* every crm_mon.xml with root <pacemaker-result> validates against crm_mon's own
  API schema (except the explicit EXPECTED_INVALID set, see below);
* the legacy one has root <crm_mon> and validates against crm_mon.rng;
* every scenario has crm_mon.xml and crm_mon.xml.rc (and a DESCRIPTION, a cibadmin.xml);
* re-running the real crm_mon on the committed cibadmin.xml gives the same
  <node>/<resource> ids as the committed crm_mon.xml (reproducible from the CIB).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

SCENARIOS_DIR = Path(__file__).parent / "fixtures" / "scenarios"
SCENARIOS = sorted(p.name for p in SCENARIOS_DIR.iterdir() if p.is_dir()) if SCENARIOS_DIR.is_dir() else []
API_RNG = Path("/usr/share/pacemaker/api/api-result.rng")
LEGACY_RNG = Path("/usr/share/pacemaker/crm_mon.rng")  # schema of `crm_mon --as-xml`
HAVE_CRM_MON = shutil.which("crm_mon") is not None

# scenarios rendered with the legacy `crm_mon --as-xml` (root <crm_mon>)
LEGACY = {"legacy-as-xml"}

# crm_mon output that does not validate against crm_mon's own api-result.rng.
# Pacemaker 2.1.5 renders a partially migrated resource (migrate_to done,
# migrate_from failed) on two nodes and the output does not match the schema
# (DESIGN.md: live migrations are the known 3-in-861 schema failures).  The
# fixture is kept because parsers must cope with it.
EXPECTED_INVALID: dict[str, str] = {}

needs_crm_mon = pytest.mark.skipif(not HAVE_CRM_MON, reason="crm_mon (pacemaker-cli-utils) not installed")


def _root(path: Path) -> etree._Element:
    return etree.parse(str(path), etree.XMLParser(huge_tree=True)).getroot()


def _ids(root: etree._Element) -> tuple[set[str], set[str]]:
    """ids of <resource> elements and names of <node> elements, anywhere."""
    resources = {e.get("id") for e in root.iter("resource")}
    nodes = {e.get("name") or e.get("uname") or e.get("id") for e in root.iter("node")}
    return resources, nodes


@pytest.fixture(scope="module")
def api_schema() -> etree.RelaxNG:
    if not API_RNG.exists():
        pytest.skip(f"{API_RNG} not installed")
    # loaded from the file path so that its <include>/<externalRef> resolve
    return etree.RelaxNG(etree.parse(str(API_RNG)))


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 20, SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_files(name):
    d = SCENARIOS_DIR / name
    for f in ("cibadmin.xml", "crm_mon.xml", "crm_mon.xml.rc", "DESCRIPTION"):
        assert (d / f).is_file(), f"{name}: {f} missing"
    rc = (d / "crm_mon.xml.rc").read_text().strip()
    assert rc.isdigit(), rc
    desc = (d / "DESCRIPTION").read_text().strip()
    assert desc and "\n" not in desc
    assert _root(d / "cibadmin.xml").tag == "cib"
    stderr = d / "crm_mon.xml.stderr"
    if stderr.exists():
        assert stderr.read_text().strip(), "crm_mon.xml.stderr is written only when not empty"


@pytest.mark.parametrize("name", SCENARIOS)
def test_root_element(name):
    root = _root(SCENARIOS_DIR / name / "crm_mon.xml")
    if name in LEGACY:
        assert root.tag == "crm_mon"
        assert root.get("version")
    else:
        assert root.tag == "pacemaker-result"
        assert root.get("api-version")


@pytest.mark.parametrize("name", [s for s in SCENARIOS if s not in LEGACY])
def test_validates_against_api_schema(name, api_schema):
    root = _root(SCENARIOS_DIR / name / "crm_mon.xml")
    valid = api_schema.validate(root)
    if name in EXPECTED_INVALID:
        assert not valid, f"{name} now validates: remove it from EXPECTED_INVALID"
    else:
        assert valid, f"{name}: {api_schema.error_log.last_error}"


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) & LEGACY))
def test_legacy_validates_against_crm_mon_rng(name):
    if not LEGACY_RNG.exists():
        pytest.skip(f"{LEGACY_RNG} not installed")
    schema = etree.RelaxNG(etree.parse(str(LEGACY_RNG)))
    assert schema.validate(_root(SCENARIOS_DIR / name / "crm_mon.xml")), schema.error_log.last_error


@needs_crm_mon
@pytest.mark.parametrize("name", SCENARIOS)
def test_reproducible_from_cib(name, tmp_path):
    d = SCENARIOS_DIR / name
    cib = tmp_path / "cib.xml"  # crm_mon must not touch the committed file
    shutil.copy(d / "cibadmin.xml", cib)
    if name in LEGACY:
        argv = ["crm_mon", "--as-xml", "--inactive"]
    else:
        argv = ["crm_mon", "--output-as=xml", "--inactive", "--fence-history=3"]
    env = dict(os.environ, CIB_file=str(cib), TZ="UTC", LC_ALL="C")
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=300, check=False)
    assert proc.returncode == int((d / "crm_mon.xml.rc").read_text().strip()), proc.stderr
    fresh = etree.fromstring(proc.stdout, etree.XMLParser(huge_tree=True))
    committed = _root(d / "crm_mon.xml")
    assert _ids(fresh) == _ids(committed)
