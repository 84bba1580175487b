"""Start the explorer with its knowledge base warming up beside the server.

``python -m cptkg.faces.explorer.serve [streamlit run options]`` is
``streamlit run app.py [options]`` plus one background thread, started before
the server, that loads the family pack's KB, imports the claim checker's page
and judges the pack's example claim once (the rules' static part is computed
then). Why: Streamlit runs the app's script only when a browser connects, so
the first analyst to open the explorer used to wait for all of that (first
visit 6.1 s against 1.4 s for the second, in one bench run). The pages use
the same per-process KB (``cptkg.load_kb``), so whatever the thread has done
is done for them; a page that asks before it is finished waits on the same
lock, never loads twice. A KB that cannot be loaded is left to the page,
which shows why.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parents[3] / "app.py"


def warm_up() -> None:
    """Load the KB, import the checker page, judge and explain the pack's example claim once.

    The same call the checker's button makes (judge with proofs and verified fixes), not a bare
    check: a bare check left the proofs and fixes to the first click, about 0.2–0.3 s of it.
    """
    try:
        import cptkg
        from cptkg.faces.explorer import checker
        from cptkg.faces.explorer.explaining import judge

        kb = cptkg.load_kb()
        judge(kb, checker.example_claim(kb))
    except Exception:  # noqa: BLE001 - the page reports a KB that cannot be used, in billing words
        pass


def main(argv: list[str] | None = None) -> None:
    threading.Thread(target=warm_up, name="cptkg-warm-up", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
