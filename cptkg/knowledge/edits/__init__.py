"""The payer edit tables, in one wing: what a pack author or operator changes together.

Why one subpackage: an edit table travels one road, and its code was spread
over ``io/``, ``knowledge/`` and the loader (the importer reached the loader's
cache folder through ``edit_files`` at call time, closing a circle). Here:

- :mod:`~cptkg.knowledge.edits.cms_import`: CMS NCCI PTP and MUE tables as
  published (text, CSV, Excel, release zips) checked and written as edit RDF
  (``cptkg edits import``); its guarded Excel reading in
  :mod:`~cptkg.knowledge.edits.workbook`;
- :mod:`~cptkg.knowledge.edits.files`: an edit file loaded over the pack
  (``--edits``) read as an edit table (one row per edit, cached as Parquet);
- :mod:`~cptkg.knowledge.edits.releases`: several releases loaded together,
  the newest release's rows deciding;
- :mod:`~cptkg.knowledge.edits.index`: every edit indexed by the codes it
  names, so a claim is judged against its own codes' edits.

Nothing here imports the loader; the loader imports ``files`` and
``releases``. The modules are imported on first use (``import cptkg`` loads
none of them).
"""
