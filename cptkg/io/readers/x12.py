"""X12 837P professional claims (005010X222A1), validated and walked with pyx12.

The claim every practice-management system sends. pyx12 (4.x) validates the
file against its map of the implementation guide (``837.5010.X222.A1.xml``)
and hands each segment over with the guide's loop it belongs to; this module
maps the loops onto the claim contract:

* ``claim_id``: CLM01 (loop 2300, the patient control number);
* ``patient_id``: the subscriber's member id, 2010BA NM109. When the patient
  is a dependant (loop 2000C), the guide gives the patient no id of its own
  (2010CA NM108/NM109 are "not used"; REF*1W is a property-and-casualty
  identifier only), so the patient is the subscriber's member id with the
  2010CA name and date of birth: ``<member id>/<last>/<first>/<CCYYMMDD>``
  (a ``/`` inside a part is written as a backslash and ``/``, a backslash as two, so two parts
  never read as one).
  The same dependant gets the same id in every file, so history matches;
* one line per 2400 loop: ``line`` = LX01; ``code`` and ``modifiers`` from the
  SV101 composite ``HC:code:mod1:…:mod4`` (only HC, CPT/HCPCS; another
  qualifier is that claim's error); ``units`` = SV104 (SV103 must be UN, and
  the count whole); ``date_of_service`` = DTP*472 (D8, or an RD8 range of one
  day). The guide has no claim-level DTP*472 in an 837P (its 2300 dates are
  onset, accident, admission…) and makes the 2400 DTP*472 required, so a
  line without one, or a DTP*472 in 2300, is refused by the validation;
* performer of each line: loop 2420A (NM1*82) for its line, else 2310B
  (NM1*82), else the billing provider 2010AA (NM1*85). The guide sends 2310B
  only when the rendering provider differs from the billing provider, and
  2420A only for lines whose rendering provider differs from the claim's
  (X12 RFI 345, quoting the guide's 2310B/2420A NM1 notes). ``provider_id`` is
  the NPI (NM108 = XX, NM109); ``provider_role`` maps the loop's NUCC taxonomy
  (2420A or 2310B PRV*PE*PXC, 2000A PRV*BI*PXC for the billing provider)
  with the family pack's mapping (:func:`cptkg.io.readers.fhir.nucc_role`).
  A loop without a taxonomy takes the one the claim states elsewhere for the
  same NPI (the same provider). A billing provider that is an organisation
  (NM102 = 2) performs nothing: when a group bills, the individual's NPI goes
  in 2310B (First Coast, "Billing provider NPI", citing the Medicare Claims
  Processing Manual ch. 26 §10.4);
* no route: an 837P line carries none (``--route`` states one).

What pyx12 reports is an error of the file (it has no warning level: any
error it finds makes its 999 acknowledgment reject the transaction set), so
the whole file is refused with one line naming the first problem's segment,
its position and its loop. A claim that reads but cannot be judged (a line
coded with another qualifier, a range of dates, an unknown taxonomy, a
performer without an NPI) is that claim's error entry; the others are judged.
"""
from __future__ import annotations

import io
import json
import logging
import re
import threading
from dataclasses import dataclass, field

from cptkg.io.readers import ReadError, ReadResult
from cptkg.claims.models import MAX_CODE, SHOWN_ID, one_line

NAME = "x12"
VERSION = "005010X222A1"  # the 837P implementation guide pyx12's map encodes (HIPAA's version since 2012)
# What other GS08/ST03 versions are, to say why a file is not one cptkg reads
OTHER_VERSIONS = {"X223": "an 837 institutional claim (837I)", "X224": "an 837 dental claim (837D)",
                  "004010X098": "an 837P of the retired 4010 version (HIPAA requires 5010 since 2012)"}

# pyx12 logs every error it finds; the reader reports them itself, in billing words
_pyx12_log = logging.getLogger("pyx12")
_pyx12_log.addHandler(logging.NullHandler())
_pyx12_log.propagate = False


def detect(data: bytes | object) -> bool:
    """An interchange begins with ISA and its element separator: cheap, and never raises."""
    if not isinstance(data, bytes):
        return False
    head = data[:64]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    head = head.lstrip()
    # "isa" in any case: a file written in lowercase is an 837P the reader refuses in words (segment ids are
    # written in capitals), not "not a claim file cptkg can read" (a real-files audit)
    return head[:3].upper() == b"ISA" and len(head) > 3 and not head[3:4].isalnum() and not head[3:4].isspace()


# ---------------------------------------------------------------- what the walk collects

@dataclass
class _Provider:
    npi: str | None = None
    entity: str | None = None  # NM102: 1 person, 2 organisation
    taxonomy: str | None = None
    where: str = ""            # "loop 2420A", for messages
    nm1_at: int = 0            # segment number of its NM1 in the file
    prv_at: int = 0


@dataclass
class _Line:
    number: str = ""
    at: int = 0                # segment number of LX
    sv1: tuple | None = None   # (qualifier, code, modifiers, unit basis, units, segment number)
    dtp: tuple | None = None   # (format, value, segment number)
    rendering: _Provider | None = None


@dataclass
class _Claim:
    claim_id: str
    patient_id: str
    at: int
    billing: _Provider
    rendering: _Provider | None = None
    lines: list[_Line] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)  # as received, for the decision log's hash
    frequency: str = ""  # CLM05-3, the claim frequency type code: 1 original, 7 replacement, 8 void


class _Walk:
    """The callback pyx12 calls with each segment and its map node; it must never raise."""

    def __init__(self):
        self.claims: list[_Claim] = []
        self.billing = _Provider(where="loop 2010AA")
        self.member = ""
        self.dependant: dict | None = None
        self.claim: _Claim | None = None
        self.line: _Line | None = None
        self.loops: dict[int, tuple[str, str, str]] = {}  # segment number -> (segment id, loop id, loop name)
        self.parents: dict[int, object] = {}  # segment number -> its loop's node in pyx12's map
        self.failed: str | None = None

    def __call__(self, seg, src, node, valid) -> None:
        try:
            self._segment(seg, src, node)
        except Exception as e:  # noqa: BLE001 - pyx12 swallows callback errors; keep the first to report it
            self.failed = self.failed or f"{type(e).__name__}: {e}"

    def _segment(self, seg, src, node) -> None:
        at = src.get_cur_line()
        sid = seg.get_seg_id()
        parent = node.get_parent() if node is not None and hasattr(node, "get_parent") else None
        loop = getattr(parent, "id", "") or ""
        self.loops[at] = (sid, loop, getattr(parent, "name", "") or "")
        self.parents[at] = parent
        v = seg.get_value

        if sid == "ST":
            self._close()
        elif sid == "HL":
            self._close()
            level = v("HL03")
            if level == "20":
                self.billing = _Provider(where="loop 2010AA")
            elif level == "22":
                self.member, self.dependant = "", None
            elif level == "23":
                self.dependant = {}
        elif sid == "PRV" and loop == "2000A":
            self.billing.taxonomy, self.billing.prv_at = v("PRV03"), at
        elif sid == "NM1" and loop == "2010AA":
            self._name(self.billing, seg, at)
        elif sid == "NM1" and loop == "2010BA":
            self.member = v("NM109") or ""
        elif sid == "NM1" and loop == "2010CA" and self.dependant is not None:
            self.dependant.update(last=v("NM103") or "", first=v("NM104") or "")
        elif sid == "DMG" and loop == "2010CA" and self.dependant is not None:
            self.dependant["dob"] = v("DMG02") or ""
        elif sid == "CLM":
            self._close()
            self.claim = _Claim(v("CLM01") or "", self._patient(), at, self.billing)
            self.claim.frequency = (v("CLM05-3") or "").strip()
        elif sid == "SE":
            self._close()

        claim = self.claim
        if claim is None or not loop.startswith(("23", "24")):  # the claim's own loops: 2300 to 2440
            return
        claim.segments.append(seg.format())
        if sid == "NM1" and loop == "2310B":
            claim.rendering = self._name(_Provider(where="loop 2310B"), seg, at)
        elif sid == "PRV" and loop == "2310B" and claim.rendering is not None:
            claim.rendering.taxonomy, claim.rendering.prv_at = v("PRV03"), at
        elif sid == "LX" and loop == "2400":
            self.line = _Line(v("LX01") or "", at)
            claim.lines.append(self.line)
        elif self.line is None:
            return
        elif sid == "SV1" and loop == "2400":
            mods = [m for m in (v(f"SV101-{i}") for i in range(3, 7)) if m]
            self.line.sv1 = (v("SV101-1") or "", v("SV101-2") or "", mods, v("SV103") or "", v("SV104") or "", at)
        elif sid == "DTP" and loop == "2400" and v("DTP01") == "472":
            self.line.dtp = (v("DTP02") or "", v("DTP03") or "", at)
        elif sid == "NM1" and loop == "2420A":
            self.line.rendering = self._name(_Provider(where=f"loop 2420A of line {self.line.number}"), seg, at)
        elif sid == "PRV" and loop == "2420A" and self.line.rendering is not None:
            self.line.rendering.taxonomy, self.line.rendering.prv_at = v("PRV03"), at

    @staticmethod
    def _name(p: _Provider, seg, at: int) -> _Provider:
        p.entity, p.nm1_at = seg.get_value("NM102"), at
        p.npi = seg.get_value("NM109") if seg.get_value("NM108") == "XX" else None
        return p

    def _patient(self) -> str:
        d = self.dependant
        if d is None:
            return self.member
        # a '/' inside a part is written as a backslash and '/' (a backslash as two): X12 AN values may hold '/', and child
        # "A/B, C" of member M1 and child "B, C" of member "M1/A" were one patient (a hostile-files audit)
        esc = lambda part: part.replace("\\", "\\\\").replace("/", "\\/")  # noqa: E731
        return "/".join(esc(p) for p in [self.member, d.get("last", "").upper(), d.get("first", "").upper(),
                                         d.get("dob", "")])

    def _close(self) -> None:
        if self.claim is not None:
            self.claims.append(self.claim)
        self.claim, self.line = None, None


# ---------------------------------------------------------------- the file's validation

# pyx12's error codes (the 999's IK3/IK4 and the TA1/AK9/IK5 codes) in billing words
_SEGMENT_WORDS = {
    "1": "is not a segment the 837P allows here",
    "2": "is not expected in an 837P",
    "3": "a required segment is missing",
    "4": "the loop repeats more often than the 837P allows",
    "5": "the segment repeats more often than the 837P allows",
    "7": "the segment is out of order",
    "8": "the segment has element errors",
}


# pyx12's own sentences for the commonest problems, said as an analyst would read them
_PYX12_WORDS = (
    (r'^Mandatory segment "(.*)" \((\w+)\) missing$', r'the required segment \2 ("\1") is missing'),
    (r'^Segment (\w+)(\*[^ ]*)? not found\.?$', r'segment \1\2 is not one the 837P allows at this place'),
    (r'^SE count of (\d+) for \w+=\S+ is wrong\. I count (\d+)$',
     r'SE01 says the transaction has \1 segments, it has \2'),
    (r'^GE count of (\d+) for \w+=\S+ is wrong\. I count (\d+)$',
     r'GE01 says the group has \1 transactions, it has \2'),
    (r'^IEA count of (\d+) for \w+=\S+ is wrong\. I count (\d+)$',
     r'IEA01 says the interchange has \1 groups, it has \2'),
    (r'^Segment (\w+) exceeded max count\.\s+Found (\d+), should have (\d+)$',
     r'segment \1 appears \2 times, the 837P allows \3'),
    (r'^ISA Interchange Control Number (\S+) not unique within file$',
     r'two interchanges in this file have the control number \1 (ISA13): was the same file appended twice?'),
    (r'^IEA id=(\S*) does not match ISA id=(\S*)$',
     r'IEA02 (\1) is not the interchange control number ISA13 (\2)'),
    # pyx12 counts a claim's 2400 loops and holds LX01 to the count (the guide: LX01 numbers the lines 1, 2, ...)
    (r'^Your 2400/LX01 Service Line Number (\S+) does not match my count of (\d+)$',
     r"LX01 is \1 but this is service line \2 of the claim; the 837P numbers a claim's lines 1, 2, 3 ... in order"),
    (r'^IEA count for IEA02=(\S+) is wrong$',
     r'IEA01 (the number of functional groups, GS, in interchange \1) is wrong'),
    # 5010 TR3 B.1.1.3.10, Absence of Data: separators of empty elements at the end of a segment
    # "must be omitted" (quoted in X12 RFI 1498); pyx12 reports them as the guide says
    (r'^Segment contains trailing element terminators$',
     r'the segment ends with empty elements (a separator just before the segment terminator); the 837P '
     r'guide says separators of empty elements at the end of a segment must be left out'),
    # pyx12's sentences about an element and the HL numbering (an inputs audit: "My HL count 2 does not match
    # your HL count 1", "is type AN"): said in the guide's terms, what the element takes and what to change
    (r'^My HL count (\d+) does not match your HL count (\S*)$',
     r"HL01 is \2 but this is hierarchical level \1 of the transaction; the 837P numbers its HL levels 1, 2, "
     r"3 ... in order"),
    (r'^HL parent \((.*)\) is not a valid parent$',
     r'HL02 names parent level \1, which is not an earlier HL level of this transaction'),
    (r'^Data element "(.*)" \((\S+)\) is type (\w+), contains an invalid character\((.*)\)$',
     lambda m: (f"'{m[4]}' ends with a decimal point: {m[2]} ({m[1]}) takes a '.' only before digits; write "
                f"'{m[4].rstrip('.')}'" if m[3] in ("R", "N") and m[4].endswith(".") and m[4][:-1].lstrip("-").isdigit()
                else f"'{m[4]}' holds a character {m[2]} ({m[1]}) does not take: it takes "
                     f"{_X12_TYPES.get(m[3], 'the X12 basic character set')}")),
    (r'^Data element "(.*)" \((\S+)\), contains an invalid control character\((.*)\)$',
     r"'\3' holds a control character, which no X12 element takes"),
    (r'^Data element "(.*)" \((\S+)\) has unnecessary trailing spaces\. \((.*)\)$',
     r"'\3' ends with spaces: X12 elements carry none at the end; remove them"),
    (r'^Data element "(.*)" \((\S+)\) is too short: len\("(.*)"\) = (\d+) < (\d+) \(min_len\)$',
     r"'\3' is \4 characters long; \2 (\1) takes at least \5"),
    (r'^Data element "(.*)" \((\S+)\) is too long: len\("(.*)"\) = (\d+) > (\d+) \(max_len\)$',
     r"'\3' is \4 characters long; \2 (\1) takes at most \5"),
    (r'^Data element "(.*)" \((\S+)\) contains an invalid date \((.*)\)$',
     r"'\3' is not a real date written CCYYMMDD"),
    (r'^Data element "(.*)" \((\S+)\) contains an invalid time \((.*)\)$',
     r"'\3' is not a time written HHMM"),
    (r'^Mandatory data element "(.*)" \((\S+)\) is missing$', r'the required element \2 (\1) is missing'),
    (r'^Data element "(.*)" \((\S+)\) is marked as Not Used$',
     r'\2 (\1) is not used in the 837P at this place: leave it empty'),
    (r'^\((.*)\) is not a valid code for (.*) \((\S+)\)$', r"'\1' is not a code the 837P allows in \3 (\2)"),
    (r'^Too many elements in segment "(.*)" \((\S+)\)\. Has (\d+), should have (\d+)$',
     r'segment \2 has \3 elements; the 837P allows \4'),
    (r'^Loop (\S+) exceeded max count\.\s+Found (\d+), should have (\d+)$',
     r'loop \1 appears \2 times, the 837P allows \3'),
    (r'^Segment (\w+) found but marked as not used$', r'segment \1 is not used in the 837P at this place'),
    (r'^Segment contains a leading space$', r'the segment starts with a space'),
)
#: X12 data element types (X12.6 Application Control Structure) as a biller reads them
_X12_TYPES = {"AN": "letters A-Z, digits 0-9, spaces and X12's basic punctuation (no full-width digits or "
                    "accented letters)",
              "ID": "a code from the 837P guide's list", "N0": "digits only", "N": "digits only",
              "N2": "digits only (two implied decimals)", "R": "a number (digits, one '.', a leading '-')",
              "DT": "a date written CCYYMMDD", "TM": "a time written HHMM"}


#: pyx12's map names for the parts of an 837P that are no numbered loop, in the guide's words (a file with no
#: BHT was said to be wrong in "loop ST_LOOP")
_UNNUMBERED = {"ISA_LOOP": "the interchange envelope (ISA)", "GS_LOOP": "the functional group (GS)",
               "ST_LOOP": "the transaction set header (ST, then BHT)", "HEADER": "the transaction header (BHT)",
               "DETAIL": "the claim detail (loops 2000A to 2440)", "FOOTER": "the transaction set trailer (SE)"}


def _where(walk: _Walk, at: int | None) -> str:
    if not at:
        return ""
    sid, loop, name = walk.loops.get(at, ("", "", ""))
    if loop in _UNNUMBERED:
        return f"segment {at} of the file{f' ({sid})' if sid else ''}, in {_UNNUMBERED[loop]}"
    shown = f"loop {loop}" + (f" ({name})" if name and loop[:1].isdigit() else "") if loop else ""
    return f"segment {at} of the file{f' ({sid})' if sid else ''}" + (f", {shown}" if shown else "")


_MISSING = re.compile(r'^Mandatory segment "(.*)" \((\w+)\) missing')


def _missing_where(walk: _Walk, at: int, sid: str) -> str | None:
    """Where a required segment ``sid`` pyx12 found missing at segment ``at`` belongs: pyx12 notices it at the
    next segment, of the next loop (a claim without HI was "loop 2310B (Rendering Provider Name)", or 2400, an
    audit), so the loop is looked up from the segment before, upward, in the map: the loop that holds ``sid``."""
    node = walk.parents.get(at - 1)
    for _ in range(12):
        if node is None or not hasattr(node, "childIterator"):
            return None
        try:
            holds = any(getattr(c, "id", None) == sid and not hasattr(c, "childIterator") for c in node.childIterator())
        except Exception:  # noqa: BLE001 - the map is pyx12's; a node it cannot walk names no loop
            return None
        if holds:
            loop, name = getattr(node, "id", "") or "", getattr(node, "name", "") or ""
            if not loop[:1].isdigit():
                return None
            return f"loop {loop}" + (f" ({name})" if name else "")
        node = node.get_parent() if hasattr(node, "get_parent") else None
    return None


def _problems(report: dict, walk: _Walk) -> list[tuple[int, str]]:
    """(segment number, what is wrong) for every error pyx12 reported, in file order."""
    out: list[tuple[int, str]] = []

    def text(e: dict) -> str:
        s = str(e.get("err_str") or "").split("  Started at ")[0].strip()
        for pattern, words in _PYX12_WORDS:
            s = re.sub(pattern, words, s)
        return one_line(s)[:200]

    for isa in report.get("interchanges") or []:
        for e in isa.get("errors") or []:
            at = isa.get("cur_line") or 1
            out.append((at, f"segment {at} of the file, interchange {isa.get('isa_trn_set_id')} (ISA/IEA): {text(e)}"))
        for gs in isa.get("groups") or []:
            for e in gs.get("errors") or []:
                at = gs.get("cur_line") or 0
                out.append((at, (f"segment {at} of the file, " if at else "")
                            + f"functional group {gs.get('gs_control_num')} (GS/GE): {text(e)}"))
            for st in gs.get("transactions") or []:
                for e in st.get("errors") or []:
                    at = st.get("cur_line") or 0
                    out.append((at, f"transaction {st.get('trn_set_control_num')} (ST/SE, ending at segment "
                                    f"{at} of the file): {text(e)}"))
                for seg in st.get("segments") or []:
                    at = seg.get("cur_line") or 0
                    where = _where(walk, at)
                    sid_here, loop_here, _ = walk.loops.get(at, ("", "", ""))
                    if (loop_here == "ST_LOOP" and sid_here != "BHT" and walk.loops.get(at - 1, ("",))[0] == "ST"
                            and seg.get("errors")):
                        # pyx12 says only that the next segment is out of place
                        out.append((at, f"segment {at} of the file ({sid_here}): the required segment BHT (Beginning "
                                        f"of Hierarchical Transaction) is missing; the 837P puts it right after ST"))
                        continue
                    for e in seg.get("errors") or []:
                        words = _SEGMENT_WORDS.get(str(e.get("err_cde")), "")
                        detail = text(e)
                        missing = _MISSING.match(str(e.get("err_str") or ""))
                        owner = _missing_where(walk, at, missing[2]) if missing and at else None
                        if owner:  # said in the loop it belongs to, before this segment
                            sid = walk.loops.get(at, ("",))[0]
                            out.append((at, f"{owner}, before segment {at} of the file"
                                            f"{f' ({sid})' if sid else ''}: {detail}"))
                            continue
                        out.append((at, f"{where}: {detail}" if detail else f"{where}: {words}"))
                    for ele in seg.get("elements") or []:
                        pos = f"{seg.get('seg_id')}{int(ele.get('ele_pos') or 0):02d}"
                        if ele.get("subele_pos"):
                            pos += f"-{ele['subele_pos']}"
                        for e in ele.get("errors") or []:
                            out.append((at, f"{where}, element {pos} ({ele.get('name')}): {text(e)}"))
    return sorted(out, key=lambda p: p[0])


_TRAILING_JUNK = "\x00\x1a \t\r\n"  # NUL padding, the DOS end-of-file mark (SUB), blank lines after the last IEA


def _normalise(text: str) -> str:
    """The file as pyx12 must see it: line breaks that are not the segment terminator removed, blank
    segments dropped, padding after the last segment cut.

    Why: CR and LF are not X12 characters; X12 RFI 28 (a file with a CRLF at every 81st byte, often in
    the middle of an element) says they "lie outside the scope of the X12 Standards" and that the
    standard's wording was "to ignore all extraneous bytes ... regardless of where in the data stream
    they appeared". So a file wrapped at 80 columns reads as the stream it is. pyx12 stops reading at
    the first empty segment (a blank line in a file whose terminator is a line break, or ``~~``)
    without saying so, and then reports the interchange's IEA as missing though the file has one;
    an empty segment holds nothing, and ``_segments`` counts none.
    """
    if len(text) < 106:
        return text  # _segments names the cut-short ISA
    if text[105] not in "\r\n":  # the terminator is a printable character: line breaks are layout
        text = text.replace("\r", "").replace("\n", "")
        if len(text) < 106:
            return text
    term = text[105]
    text = text.rstrip(_TRAILING_JUNK.replace(term, ""))
    # Spaces or tabs after a segment terminator (a file padded to fixed-length records, "~  " then a line
    # break) stand before the next segment's id, where X12 has no data: extraneous bytes, as the line
    # breaks. Spaces before a terminator are kept: they may end the last element's value.
    lead = "".join(c for c in " \t\r\n" if c != term)
    kept = [s.lstrip(lead).rstrip("\r\n") for s in text.split(term)]
    return term.join(s for s in kept if s.strip()) + term


def _distinct_separators(text: str, source: str) -> None:
    """The ISA's four delimiters (element separator, ISA11 repetition separator, ISA16 component separator,
    segment terminator) must be four different characters, none a letter, digit or space (X12.5 and the
    005010 guide's appendix B.1.1.2.5): two alike make every element split two ways, and such a file was
    refused with a misleading reason (a missing version, ISA with too few elements, a place of service
    "11:B:1" too long) by an attack audit. ISA11 is a repetition separator only in version 00501."""
    named = [("the element separator (ISA character 4)", text[3]),
             ("the component separator (ISA16)", text[104]), ("the segment terminator (ISA character 106)", text[105])]
    if text[84:89] == "00501":
        named.insert(1, ("the repetition separator (ISA11)", text[82]))
    for i, (what, c) in enumerate(named):
        if c.isalnum() or c == " ":
            raise ReadError(f"{source}: segment 1 (ISA): {what} is {c!r}; a delimiter cannot be a letter, a digit "
                            f"or a space (is the ISA segment exactly 106 characters?)")
        for other, d in named[:i]:
            if c == d:
                raise ReadError(f"{source}: segment 1 (ISA): {what} is {c!r}, the same as {other}; the element "
                                f"separator, repetition separator, component separator and segment terminator "
                                f"must be four different characters")


def _segments(text: str, source: str) -> tuple[str, str, list[str]]:
    """The element separator, the segment terminator and the segments; the envelope's version checked
    before pyx12 is asked (it raises on a version it has no map for)."""
    from cptkg.limits import MAX_X12_SEGMENT_CHARS, MAX_X12_SEGMENTS

    if len(text) < 106:
        raise ReadError(f"{source}: the ISA segment is cut short (an ISA segment is 106 characters)")
    sep, term, comp = text[3], text[105], text[104]
    if term.isalnum() or term == sep:
        # the width is the usual cause (fields not padded): said first (a real-files audit)
        raise ReadError(f"{source}: segment 1 (ISA): the ISA segment must be exactly 106 characters, its fields "
                        f"padded to their fixed widths with spaces; read so, its segment terminator (character "
                        f"106) is {term!r}")
    _distinct_separators(text, source)
    count = text.count(term)
    if count > MAX_X12_SEGMENTS:
        raise ReadError(f"{source}: {count:,} segments; cptkg check reads at most {MAX_X12_SEGMENTS:,} "
                        f"segments of an 837P file: split the file by interchange or transaction")
    segments = [s.strip() for s in text.split(term)]
    longest = max(range(len(segments)), key=lambda i: len(segments[i]))
    if len(segments[longest]) > MAX_X12_SEGMENT_CHARS:
        n = sum(1 for s in segments[:longest] if s) + 1
        raise ReadError(f"{source}: segment {n} of the file ({one_line(segments[longest][:3])}…) is "
                        f"{len(segments[longest]):,} characters long; no 837P segment is longer than "
                        f"{MAX_X12_SEGMENT_CHARS:,} (is the segment terminator, ISA character 106, right?)")
    depth = 0  # 0 outside, 1 in an interchange, 2 in a functional group, 3 in a transaction
    for n, s in enumerate((s for s in segments if s), start=1):
        el = s.split(sep)
        sid = el[0]
        if n > 1 and sid != "ISA" and s.startswith("ISA") and len(s) > 3 and not s[3].isalnum():
            # each ISA declares its own separators; pyx12 reads every interchange with the first one's
            raise ReadError(f"{source}: segment {n} (ISA) starts an interchange with other separators "
                            f"({one_line(s[3])!r} between elements, the first interchange uses {sep!r}); "
                            f"cptkg reads a file whose interchanges share their separators: give each "
                            f"interchange in a file of its own")
        if n > 1 and sid == "ISA" and len(s) >= 105 and (s[104] != comp or len(s) > 105):
            # its own component separator (ISA16) or segment terminator: read with the first's, its composites or
            # segments were misread ("'11>B>1' is 6 characters long", "the file ends before its interchange is
            # closed": a hostile-files audit)
            what = (f"{one_line(s[104])!r} between components, the first interchange uses {comp!r}" if s[104] != comp
                    else f"its segments not ended by {one_line(term)!r}, as the first interchange's are")
            raise ReadError(f"{source}: segment {n} (ISA) starts an interchange with other separators ({what}); "
                            f"cptkg reads a file whose interchanges share their separators: give each interchange "
                            f"in a file of its own")
        if sid != sid.upper() and sid.upper().isascii() and sid.upper().isalnum():
            # "gs" read as a segment of no envelope: "comes inside an interchange but outside a functional
            # group" said nothing of the case (a real-files audit)
            raise ReadError(f"{source}: segment {n} ({one_line(sid[:SHOWN_ID])}): a segment id is written in capitals "
                            f"({sid.upper()[:SHOWN_ID]}); X12 reads {one_line(sid[:SHOWN_ID])!r} as no segment")
        if sid != "ISA":
            # 5010 TR3 B.1.1.3.10, Absence of Data: as trailing element separators, the separators of empty
            # components at the end of a composite "must be omitted" (SV1*HC:95990::: was read; a security audit)
            at = next((i for i, e in enumerate(el[1:], start=1) if comp in e and e.endswith(comp)), None)
            if at is not None:
                raise ReadError(f"{source}: segment {n} ({one_line(sid[:SHOWN_ID])}), element {sid[:SHOWN_ID]}{at:02d}: "
                                f"{one_line(el[at][:40])!r} ends with empty components (a component separator "
                                f"{comp!r} at its end); the 837P guide says separators of empty data at the end "
                                f"must be left out")
        want = _ENVELOPE.get(sid, (3, 3))
        if depth != want[0]:
            raise ReadError(f"{source}: segment {n} ({one_line(sid[:SHOWN_ID])}) comes {_NESTING[depth]}; the "
                            f"envelopes must nest as ISA, GS, ST … SE, GE, IEA")
        depth = want[1]
        if el[0] == "ISA" and (len(el) < 13 or el[12] != "00501"):
            got = el[12] if len(el) > 12 else "missing"
            raise ReadError(f"{source}: segment {n} (ISA), element ISA12: version {got!r}; cptkg reads "
                            f"837P files of X12 version 00501 ({VERSION})")
        if el[0] in ("GS", "ST"):
            i = 8 if el[0] == "GS" else 3
            got = el[i] if len(el) > i else ""
            if el[0] == "GS" and (len(el) < 2 or el[1] != "HC"):
                raise ReadError(f"{source}: segment {n} (GS), element GS01: {one_line(el[1][:SHOWN_ID]) if len(el) > 1 else ''!r} "
                                f"is not HC (health care claim); cptkg reads 837P claims ({VERSION})")
            if el[0] == "ST" and el[1:2] != ["837"]:
                raise ReadError(f"{source}: segment {n} (ST), element ST01: {one_line(el[1][:SHOWN_ID]) if len(el) > 1 else ''!r} "
                                f"is not 837 (a health care claim)")
            if got != VERSION:
                what = next((w for k, w in OTHER_VERSIONS.items() if k in got), "not an 837P of version " + VERSION)
                raise ReadError(f"{source}: segment {n} ({el[0]}), element {el[0]}{i:02d}: version "
                                f"{one_line(got[:SHOWN_ID])!r} is {what}; cptkg reads 837P professional claims ({VERSION})")
    if depth:
        last = [s for s in segments if s]
        raise ReadError(f"{source}: the file ends before {_UNCLOSED[depth]}, after segment {len(last)} "
                        f"({one_line(last[-1].split(sep)[0][:SHOWN_ID])}): is the file cut short?")
    return sep, term, segments


def _undecodable(data: bytes, at: int) -> str:
    """Which byte, in which segment, is not text: a name saved in a Windows or Latin-1 code page is
    the usual cause, and the analyst needs the segment to find it."""
    head = data[:at].decode("utf-8-sig", "replace").lstrip()
    where = ""
    if head.startswith("ISA") and len(head) > 105:
        parts = head.split(head[105])
        n = sum(1 for p in parts[:-1] if p.strip()) + 1
        sid = parts[-1].strip()[:3]
        # a segment id is letters and digits: junk bytes before the bad one are no name to show (an audit)
        sid = sid if sid.isascii() and sid.isalnum() else ""
        where = f", in segment {n} of the file" + (f" ({sid})" if sid else "") + ","
    return (f"byte {at:,} (0x{data[at]:02X}){where} is not ASCII or UTF-8 text: an 837P is a text file; "
            f"a name or address saved in another character set (an accented letter?) is the usual cause")


# envelope segments: (the nesting depth they belong at, the depth after them); any other segment is at 3
_ENVELOPE = {"ISA": (0, 1), "GS": (1, 2), "ST": (2, 3), "SE": (3, 2), "GE": (2, 1), "IEA": (1, 0)}
_NESTING = ["outside any interchange (no open ISA)", "inside an interchange (ISA) but outside a functional group",
            "inside a functional group (GS) but outside a transaction", "inside a transaction (ST … SE)"]
_UNCLOSED = ["", "its interchange is closed (IEA)", "its functional group is closed (GE)",
             "its transaction is closed (SE)"]


_MAPS: dict[tuple, object] = {}
_MAPS_LOCK = threading.Lock()


def _reuse_maps() -> None:
    """Have pyx12 build each map of the 837P guide once per process, not once per file.

    ``x12n_document`` parses its control map and the 005010X222A1 map (XML,
    some 28,000 elements) on every call: 0.2 s of a 0.22 s one-claim check, on
    every check of an 837P in the explorer. The built map is read-only while a
    file is walked (the walker keeps its counts apart, and nothing else of
    pyx12 writes to a node after it is built), so one map serves every file
    and thread. Keyed by everything the build reads: the file, the folder and
    the two parameters the map consults.
    """
    import pyx12.map_if

    real = pyx12.map_if.load_map_file
    if getattr(real, "cptkg_reuses", False):
        return

    def load_map_file(map_file, param, map_path=None):
        key = (map_file, map_path, param.get("charset"), param.get("exclude_external_codes"))
        with _MAPS_LOCK:
            built = _MAPS.get(key)
        if built is None:
            built = real(map_file, param, map_path)
            with _MAPS_LOCK:
                built = _MAPS.setdefault(key, built)
        return built

    load_map_file.cptkg_reuses = True
    pyx12.map_if.load_map_file = load_map_file


def _validate(text: str, source: str) -> _Walk:
    import pyx12.errors
    import pyx12.params
    import pyx12.x12n_document

    _reuse_maps()
    walk = _Walk()
    report = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None,
                                               fd_json=report, callback=walk)
    except (pyx12.errors.X12Error, pyx12.errors.EngineError) as e:
        last = max(walk.loops, default=0)
        raise ReadError(f"{source}: not a valid 837P file: {one_line(str(e))[:200]}"
                        + (f" (after {_where(walk, last)})" if last else "")) from None
    except (IndexError, ValueError, TypeError, KeyError, AttributeError):  # pyx12's own stumbles on malformed data
        last = max(walk.loops, default=0)
        raise ReadError(f"{source}: not a valid 837P file: it cannot be read past "
                        + (_where(walk, last) if last else "its first segment")
                        + " (a control or count element that is not a number, or envelopes out of order, "
                          "follows)") from None
    except RecursionError:
        raise ReadError(f"{source}: not a valid 837P file (its loops nest too deeply to read)") from None
    problems = _problems(json.loads(report.getvalue() or "{}"), walk) if report.getvalue() else []
    if problems:
        # the first two are said (a count alone said there was more without saying what: an inputs audit)
        said = "; then ".join(p for _, p in problems[:2])
        more = f" (and {len(problems) - 2} more problem{'s' if len(problems) > 3 else ''})" if len(problems) > 2 else ""
        raise ReadError(f"{source}: not a valid 837P ({VERSION}): {said}{more}")
    if not ok:
        raise ReadError(f"{source}: not a valid 837P file ({VERSION}): pyx12 could not read it as X12")
    if walk.failed:
        raise ReadError(f"{source}: the 837P could not be read ({one_line(walk.failed)[:200]})")
    return walk


# ---------------------------------------------------------------- claims

def _role(p: _Provider, others: list[_Provider], kb) -> tuple[str | None, _Provider | None]:
    """The provider's taxonomy as stated in its loop, else where the claim states one for the same NPI."""
    if p.taxonomy:
        return p.taxonomy, p
    for o in others:
        if o is not p and o.taxonomy and o.npi and o.npi == p.npi:
            return o.taxonomy, o
    return None, None


def _line(claim: _Claim, ln: _Line, kb, roles: list[str]) -> dict:
    from cptkg.io.readers.fhir import nucc_role

    where = f"claim {one_line(claim.claim_id[:SHOWN_ID])}, line {ln.number}"
    if not ln.number.isdigit() or not 0 < int(ln.number) <= 1_000_000:
        raise ReadError(f"{where}: LX01 (segment {ln.at} of the file) is not a line number")
    qual, code, mods, basis, units, sv1_at = ln.sv1 or ("", "", [], "", "", ln.at)
    sv1 = f"segment {sv1_at} of the file (SV1, loop 2400)"
    if qual != "HC":
        raise ReadError(f"{where}: the procedure is coded with qualifier {one_line(qual[:SHOWN_ID])!r} in SV101 "
                        f"({sv1}); cptkg judges CPT and HCPCS codes, qualifier HC")
    if basis != "UN":
        raise ReadError(f"{where}: SV103 is {one_line(basis[:SHOWN_ID])!r} ({sv1}): the quantity is not in units; "
                        f"cptkg judges units of service (UN)")
    try:
        count = float(units)
    except ValueError:
        count = -1.0
    if count < 0 and count == int(count) and units.strip().startswith("-"):
        raise ReadError(f"{where}: SV104 {one_line(units[:SHOWN_ID])!r} ({sv1}) is negative: a line bills at least 1 unit")
    if count != int(count) or count < 0:
        raise ReadError(f"{where}: SV104 {one_line(units[:SHOWN_ID])!r} ({sv1}) is not a whole number of units")
    if count < 1:
        raise ReadError(f"{where}: SV104 {one_line(units[:SHOWN_ID])!r} ({sv1}) bills no units: a line bills at least 1 unit")
    from cptkg.claims.models import MAX_UNITS

    if count > MAX_UNITS:
        raise ReadError(f"{where}: SV104 {one_line(units[:SHOWN_ID])!r} ({sv1}): at most {MAX_UNITS:,} units are judged "
                        f"on one line")
    if ln.dtp is None:  # the validation refuses this first; kept for a file pyx12 lets through
        raise ReadError(f"{where}: no date of service (DTP*472 in loop 2400)")
    fmt, value, dtp_at = ln.dtp
    dates = value.split("-") if fmt == "RD8" else [value]
    if len(dates) == 2 and dates[0].isdigit() and dates[1].isdigit() and dates[1] < dates[0]:
        raise ReadError(f"{where}: the date of service is the range {one_line(value[:SHOWN_ID])} (DTP*472 RD8, segment "
                        f"{dtp_at} of the file), which ends before it starts: give the line's one date of service "
                        f"(D8, or RD8 with the same date twice)")
    if len(dates) == 2 and dates[0] != dates[1]:
        raise ReadError(f"{where}: the date of service is the range {one_line(value[:SHOWN_ID])} (DTP*472 RD8, segment "
                        f"{dtp_at} of the file); the guide allows a range, but cptkg judges each line on one "
                        f"date of service: bill each date on its own line")
    d = dates[0]
    date = f"{d[:4]}-{d[4:6]}-{d[6:8]}"

    looked: list[str] = []
    if ln.rendering is not None:
        performer = ln.rendering
    elif claim.rendering is not None:
        performer = claim.rendering
    else:
        performer = claim.billing
        if performer.entity == "2":
            raise ReadError(f"{where}: the performer cannot be identified: the claim names no rendering provider "
                            f"(loop 2420A for the line, 2310B for the claim) and the billing provider (loop 2010AA) "
                            f"is an organisation; name the individual who performed the service in 2310B or 2420A")
    if performer is not claim.billing and performer.entity == "2":
        # a group's NPI and taxonomy do not tell who did the service, and the rules judge exactly that
        raise ReadError(f"{where}: the performer cannot be identified: the rendering provider in {performer.where} "
                        f"(NM1 at segment {performer.nm1_at} of the file) is an organisation (NM102 = 2); name the "
                        f"individual who performed the service (NM102 = 1) there")
    looked.append(performer.where)
    if not performer.npi:
        raise ReadError(f"{where}: the performer cannot be identified: the rendering provider in {performer.where} "
                        f"(NM1 at segment {performer.nm1_at} of the file) has no NPI (NM108 XX with NM109)")
    others = [claim.billing] + ([claim.rendering] if claim.rendering else []) + [
        x.rendering for x in claim.lines if x.rendering is not None]
    taxonomy, source = _role(performer, others, kb)
    if taxonomy is None:
        loops = sorted({performer.where} | {o.where for o in others if o.npi == performer.npi})
        prv = "PRV*BI*PXC in loop 2000A" if performer is claim.billing else f"PRV*PE*PXC in {performer.where}"
        raise ReadError(f"{where}: the performer's role cannot be told: no NUCC taxonomy ({prv}) for the "
                        f"rendering provider; looked in {', '.join(loops)}")
    role = nucc_role(taxonomy, kb)
    if role is None:
        prv_loop = "loop 2000A" if source is claim.billing else source.where
        raise ReadError(f"{where}: taxonomy {one_line(taxonomy[:SHOWN_ID])!r} ({prv_loop}, PRV03, segment "
                        f"{source.prv_at} of the file) is not a NUCC taxonomy code the code family maps to a "
                        f"provider role ({', '.join(roles)})")
    out = {"line": int(ln.number), "code": code, "date_of_service": date, "provider_id": performer.npi,
           "provider_role": role, "units": int(count)}
    if mods:
        out["modifiers"] = mods
    return out


#: CLM05-3 of a claim that cancels an earlier one (NUBC claim frequency type code 8, "void/cancel of prior claim")
VOID = "8"


def _claim(claim: _Claim, kb, roles: list[str]) -> dict:
    """One CLM's claim dict; a void is its own error entry (a replacement, 7, is judged as the whole claim).

    A void bills nothing: judging its lines as new services would report as
    duplicates (or accept) services it takes back. A replacement (7) states
    the corrected claim in full, so it is judged as a claim; the history
    given with it should not hold the claim it replaces.
    """
    if claim.frequency == VOID:
        raise ReadError(f"claim {claim.claim_id[:60]} (CLM01), CLM05-3 = 8: the claim voids an earlier claim and "
                        f"bills nothing to judge; leave the voided claim's services out of the history instead")
    lines = []
    for k, ln in enumerate(claim.lines):
        try:
            lines.append(_line(claim, ln, kb, roles))
        except ReadError as e:  # the line the error is in: the claim's other lines say they were not judged
            e.line_index = k    # for it, not the error as if it were theirs (as claim JSON and FHIR say; an audit)
            raise
    return {"claim_id": claim.claim_id, "patient_id": claim.patient_id, "lines": lines}


def read(data: bytes, source: str = "input", history: bytes | None = None, kb=None) -> ReadResult:
    """Every claim of every interchange, group and transaction, in file order.

    ``history`` is ignored: ``--history FILE`` is attached to every format's
    claims in one place (:func:`cptkg.io.readers.attach_history`).
    """
    from cptkg.knowledge.vocabulary import vocabulary

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ReadError(f"{source}: {_undecodable(data, e.start)}") from None
    text = text.lstrip()
    if not text.startswith("ISA"):
        if text[:3] == "isa" or text[:3].upper() == "ISA":
            raise ReadError(f"{source}: segment 1 ({one_line(text[:3])}): a segment id is written in capitals (ISA)")
        raise ReadError(f"{source}: not an X12 837P file: it must begin with an ISA segment")
    text = _normalise(text)
    _segments(text, source)
    walk = _validate(text, source)
    if not walk.claims:
        raise ReadError(f"{source}: the 837P holds no claims (no CLM segment in loop 2300)")
    from cptkg.knowledge.loader import chosen_kb

    kb = chosen_kb(kb, f"reading {source}")
    roles = vocabulary(kb).values("role")
    claims: list = []
    first: dict[str, int] = {}  # CLM01 -> the segment of its first CLM
    for c in walk.claims:
        try:
            if c.claim_id in first:
                # A claim is judged, reported and logged by its CLM01 (the patient control number an 835
                # remittance answers with): two claims of one id would be one claim to batch and two
                # contradicting verdicts to anyone reading the report. The first is judged.
                raise ReadError(f"claim {one_line(c.claim_id[:SHOWN_ID])} (CLM01, loop 2300, segment {c.at} of the "
                                f"file): the claim at segment {first[c.claim_id]} has the same CLM01; each claim "
                                f"of a file needs its own patient control number to be judged on its own")
            first[c.claim_id] = c.at
            claims.append(_claim(c, kb, roles))
        except ReadError as e:
            err = ReadError(str(e), c.claim_id)
            # the claim as received: what could be read, and its segments (the decision log hashes it)
            err.raw = {"claim_id": c.claim_id, "patient_id": c.patient_id, "x12_segments": list(c.segments)}
            # its service lines as given (LX01, SV101-2): each gets its error row, as a claim JSON's lines do
            err.lines = [{"line": int(ln.number) if ln.number.isdigit() else "",
                          "code": (ln.sv1[1] if ln.sv1 else "").strip()[:MAX_CODE]} for ln in c.lines]
            if e.line_index is not None and 0 <= e.line_index < len(err.lines) and len(err.lines) > 1:
                err.lines[e.line_index]["has_error"] = True
            claims.append(err)
    return ReadResult(claims, was_list=True)
