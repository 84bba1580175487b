"""Where the packs live: the design card's kb/ and ontology/ at the top of the checkout,
shipped inside the wheel, found by name and through the ``cptkg.packs`` entry point.

Issue 24: an installed wheel could not find its pack ("…/site-packages/families: no such
family pack"). These tests build the wheel from this checkout, install it apart from the
checkout and judge a claim copied to a folder of its own; and declare a pack as another
package would (an entry point in a dist-info folder on the path).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cptkg.knowledge import pack as P

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "families" / "stimfix"


def test_the_rdf_lives_in_the_design_cards_top_level_folders():
    assert P.CORE_ONTOLOGY == ROOT / "ontology" and (ROOT / "ontology" / "core.ttl").is_file()
    assert P.PACKS == ROOT / "kb" and P.DEFAULT_PACK == ROOT / "kb" / "pump"
    assert not (ROOT / "families").exists() and not (ROOT / "cptkg" / "knowledge" / "ontology").exists()
    # the pack's own ontology extension and facts, inside its folder of kb/
    assert (ROOT / "kb" / "pump" / "ontology" / "pump.ttl").is_file()
    assert (ROOT / "kb" / "pump" / "kb" / "codes.ttl").is_file()


def test_a_pack_is_found_by_its_name_as_well_as_by_its_folder():
    assert P.locate("pump") == (ROOT / "kb" / "pump").resolve()
    assert P.locate(str(ROOT / "kb" / "pump")) == (ROOT / "kb" / "pump").resolve()
    assert "pump" in P.installed_packs()


def _cptkg(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "cptkg", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_kb_by_name_from_another_folder_and_an_unknown_name_lists_the_packs(tmp_path):
    shutil.copy(ROOT / "examples" / "claim-pair.json", tmp_path)
    env = {"PYTHONPATH": str(ROOT)}
    r = _cptkg("check", "--kb", "pump", "claim-pair.json", "--json", cwd=tmp_path, env=env)
    assert r.returncode in (0, 1), r.stderr
    assert json.loads(r.stdout)["claim_id"]
    bad = _cptkg("check", "--kb", "nosuchpack", "claim-pair.json", cwd=tmp_path, env=env)
    assert bad.returncode == 2
    assert "--kb nosuchpack: no such family pack folder or installed pack" in bad.stderr
    assert "pump" in bad.stderr and "Traceback" not in bad.stderr


def _declare_pack(site: Path, name: str, module: str) -> None:
    """What installing a pack of one's own leaves on the path: its module folder (the pack) and a
    dist-info whose entry_points.txt names it under ``cptkg.packs``."""
    shutil.copytree(FIXTURE, site / module)
    (site / module / "__init__.py").write_text('"""A family pack installed as a package (test fixture)."""\n')
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cptkg.packs]\n{name} = {module}\n")


def test_a_pack_installed_as_a_package_is_found_through_its_entry_point(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _declare_pack(site, "stimfix", "stimfix_pack")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FIXTURE / "examples" / "claim.json", work)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    r = _cptkg("check", "--kb", "stimfix", "claim.json", "--json", cwd=work, env=env)
    assert r.returncode == 1, r.stderr
    res = json.loads(r.stdout)
    assert [(l["code"], l["status"]) for l in res["lines"]] == [("9992T", "accepted"), ("9993T", "rejected")]
    # without the entry point on the path the name is unknown, and the message says which packs are
    plain = _cptkg("check", "--kb", "stimfix", "claim.json", cwd=work, env={"PYTHONPATH": str(ROOT)})
    assert plain.returncode == 2 and "installed packs: pump" in plain.stderr


def test_an_entry_point_that_cannot_be_loaded_is_left_out_not_a_traceback(tmp_path):
    site = tmp_path / "site"
    info = site / "brokenpack-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenpack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[cptkg.packs]\nbroken = no_such_module_here\n")
    r = _cptkg("check", "--kb", "broken", str(ROOT / "examples" / "claim-pair.json"), cwd=tmp_path,
               env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--kb broken: no such family pack folder or installed pack" in r.stderr


@pytest.mark.slow
def test_a_wheel_built_from_the_checkout_judges_a_claim_from_any_folder(tmp_path):
    # built from a copy of the checkout's files (tracked, and new ones not ignored): a build in the
    # checkout would reuse its build/ folder, whose leftovers a wheel would then carry
    src = tmp_path / "src"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("cptkg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("cptkg/_kb/default", "cptkg/_kb/pump/family.yaml", "cptkg/_kb/pump/rules/claim.dl",
                    "cptkg/_kb/pump/kb/codes.ttl", "cptkg/_ontology/core.ttl", "cptkg/_ontology/shapes.ttl",
                    "cptkg/knowledge/carc.yaml"):
        assert shipped in names, shipped
    assert not any("__pycache__" in n for n in names)
    target = tmp_path / "installed"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "claim-pair.json", work)
    # the installed copy, not the checkout: PYTHONPATH puts it first, and the checkout is not the cwd
    env = {**os.environ, "PYTHONPATH": str(target), "CPTKG_KB": ""}
    where = subprocess.run([sys.executable, "-c", "import cptkg.knowledge.pack as p; print(p.__file__); "
                            "print(p.DEFAULT_PACK); print(p.CORE_ONTOLOGY)"],
                           cwd=work, capture_output=True, text=True, env=env)
    lines = where.stdout.split()
    assert all(line.startswith(str(target)) for line in lines), where.stdout + where.stderr
    r = subprocess.run([sys.executable, "-m", "cptkg", "check", "claim-pair.json", "--json"], cwd=work,
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "rejected" and {l["status"] for l in res["lines"]} == {"rejected"}
