"""The claim contract, on its own floor below judging: what a claim or an
encounter is (:mod:`.models`, the pydantic models every reader fills), the
JSON Schema published from them (:mod:`.schema`, ``cptkg schema``), and the
facts a claim gives the rules (:mod:`.inputs`, made from the ontology's one
declaration of the claim inputs). Readers depend on this package, not on the
judge, so a new file format never reaches into the rules' machinery."""
