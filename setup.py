"""The design card's top-level data folders, shipped inside the package.

``kb/`` (the family packs) and ``ontology/`` (the core ontology and its
shapes) sit at the top of the checkout, as the design card draws it; a wheel
carries them as ``cptkg/_kb`` and ``cptkg/_ontology`` so that an installed
``cptkg`` finds its default pack from any folder (cptkg.knowledge.pack looks
inside the package first, then beside it). pyproject.toml's package tables
cannot add packages mapped from other folders to the ones ``find`` returns,
hence these few lines; everything else about the project is in pyproject.toml.
Each data folder is named as a package of its own, which is how setuptools
ships a folder of data files without warning that it is not importable.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
DATA = {"cptkg._kb": "kb", "cptkg._ontology": "ontology"}
FILES = ["default", "*.ttl", "*.dl", "*.yaml", "*.json", "*.md", "*.txt"]


def data_packages() -> dict[str, str]:
    """Every folder under a data folder, as a package name mapped to its folder."""
    found = {}
    for name, top in DATA.items():
        for folder in [HERE / top, *sorted(p for p in (HERE / top).rglob("*") if p.is_dir())]:
            if "__pycache__" in folder.parts:
                continue
            rel = folder.relative_to(HERE / top).parts
            found[".".join((name, *rel))] = "/".join((top, *rel))
    return found


PACKAGES = data_packages()

setup(
    packages=find_packages(include=["cptkg", "cptkg.*"]) + list(PACKAGES),
    package_dir=PACKAGES,
    package_data={"cptkg": ["py.typed"],  # PEP 561: the public API's annotations are read by type checkers
                  "cptkg.knowledge": ["carc.yaml"],  # the reason-code (X12 CARC) descriptions
                  **{name: FILES for name in PACKAGES}},
)
