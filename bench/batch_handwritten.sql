-- Hand-written DuckDB reference for the claim edits of kb/rules/claim.dl.
--
-- The batch benchmark runs this beside the compiled rules: it is what an
-- engineer would write by hand for the same edits, with the same inputs
-- (the Parquet file of claim lines, the history file, and the KB facts as
-- tables kb_<predicate>(c0, c1, ...)). It writes, per line, the verdict and
-- the ids of the rules that reject or warn, plus a short reason text, to
-- Parquet. {lines}, {history} and {out} are file paths filled in by the
-- benchmark (it also checks that this query and the compiled rules agree).

CREATE OR REPLACE TEMP TABLE l AS
SELECT trim(claim_id) AS claim_id, trim(patient_id) AS patient_id, CAST(line AS BIGINT) AS line,
       upper(trim(code)) AS code, trim(date_of_service) AS dos, trim(provider_id) AS prov,
       trim(provider_role) AS role, coalesce(TRY_CAST(units AS BIGINT), 1) AS units, modifiers
FROM read_parquet('{lines}');

CREATE OR REPLACE TEMP TABLE mods AS
SELECT DISTINCT claim_id, line, upper(trim(m)) AS m
FROM (SELECT claim_id, line, unnest(regexp_split_to_array(modifiers, '[;|]')) AS m FROM l WHERE modifiers IS NOT NULL)
WHERE trim(m) <> '';

CREATE OR REPLACE TEMP TABLE hist AS
SELECT trim(patient_id) AS patient_id, upper(trim(code)) AS code, trim(date_of_service) AS dos,
       -row_number() OVER (PARTITION BY trim(patient_id) ORDER BY file_row_number) AS e
FROM read_parquet('{history}', file_row_number = true);

-- every billed service a claim can see: its own lines (e = line) and its patient's history (e < 0)
CREATE OR REPLACE TEMP TABLE billed AS
SELECT claim_id, line AS e, code, dos FROM l
UNION ALL
SELECT c.claim_id, h.e, h.code, h.dos FROM (SELECT DISTINCT claim_id, patient_id FROM l) c JOIN hist h USING (patient_id);

-- knowledge-base derived tables (small)
CREATE OR REPLACE TEMP TABLE xpair AS
WITH ok AS (
  SELECT x.c0 AS x, f.c1 AS g1, s.c1 AS g2
  FROM kb_exclusion x
  JOIN kb_exclusion_first f ON f.c0 = x.c0 JOIN kb_exclusion_second s ON s.c0 = x.c0
  JOIN kb_exclusion_scope sc ON sc.c0 = x.c0 AND sc.c1 = 'SamePatientSameDate'
  JOIN kb_severity sv ON sv.c0 = x.c0 AND sv.c1 = 'Deny')
SELECT a.c1 AS c1, b.c1 AS c2, ok.x FROM ok JOIN kb_group_member a ON a.c0 = ok.g1 JOIN kb_group_member b ON b.c0 = ok.g2
UNION
SELECT b.c1, a.c1, ok.x FROM ok JOIN kb_group_member a ON a.c0 = ok.g1 JOIN kb_group_member b ON b.c0 = ok.g2;

CREATE OR REPLACE TEMP TABLE inc AS
SELECT a.c0 AS c1, b.c0 AS c2 FROM kb_code a, kb_code b
WHERE NOT EXISTS (SELECT 1 FROM kb_covers_service s WHERE s.c0 = b.c0
                  AND NOT EXISTS (SELECT 1 FROM kb_covers_service t WHERE t.c0 = a.c0 AND t.c1 = s.c1));

CREATE OR REPLACE TEMP TABLE outranks AS
SELECT i.c1, i.c2 FROM inc i WHERE NOT EXISTS (SELECT 1 FROM inc j WHERE j.c1 = i.c2 AND j.c2 = i.c1)
UNION
SELECT i.c1, i.c2 FROM inc i JOIN inc j ON j.c1 = i.c2 AND j.c2 = i.c1 JOIN kb_requires_skill r ON r.c0 = i.c1
WHERE NOT EXISTS (SELECT 1 FROM kb_requires_skill q WHERE q.c0 = i.c2 AND q.c1 = r.c1);

CREATE OR REPLACE TEMP TABLE same_rank AS
SELECT i.c1, i.c2 FROM inc i JOIN inc j ON j.c1 = i.c2 AND j.c2 = i.c1
WHERE NOT EXISTS (SELECT 1 FROM outranks o WHERE (o.c1 = i.c1 AND o.c2 = i.c2) OR (o.c1 = i.c2 AND o.c2 = i.c1));

-- roles
CREATE OR REPLACE TEMP TABLE lr AS
SELECT l.claim_id, l.line, l.code, iv.c0 AS r,
       EXISTS (SELECT 1 FROM kb_may_be_performed_by m JOIN kb_subclass_of s ON s.c1 = m.c1 WHERE m.c0 = l.code AND s.c0 = iv.c0) AS permitted,
       l.code IN (SELECT c0 FROM kb_requires_skill WHERE c1 = 'PhysicianOrQHPSkill') AS skill,
       l.code IN (SELECT c0 FROM kb_may_be_performed_by) AS listed,
       EXISTS (SELECT 1 FROM kb_subclass_of s WHERE s.c0 = iv.c0 AND s.c1 = 'PhysicalTherapist') AS pt,
       EXISTS (SELECT 1 FROM kb_subclass_of s WHERE s.c0 = iv.c0 AND s.c1 = 'ClinicalStaff') AS clinical
FROM l JOIN kb_input_value iv ON iv.c1 = l.role
JOIN kb_subclass_of pr ON pr.c0 = iv.c0 AND pr.c1 = 'ProviderRole';

-- same-date exclusions
CREATE OR REPLACE TEMP TABLE conflict AS
SELECT l.claim_id, l.line, l.code, b.e, b.code AS code2, x.x
FROM l JOIN billed b ON b.claim_id = l.claim_id AND b.dos = l.dos AND b.e <> l.line
JOIN xpair x ON x.c1 = l.code AND x.c2 = b.code
WHERE NOT EXISTS (SELECT 1 FROM kb_effective_from f WHERE f.c0 = x.x AND l.dos < f.c1)
  AND NOT EXISTS (SELECT 1 FROM kb_effective_until u WHERE u.c0 = x.x AND l.dos > u.c1);

-- the device on the date of service
CREATE OR REPLACE TEMP TABLE ib AS
SELECT l.claim_id, l.line, l.code, l.dos AS dl, b.e, b.dos AS d1, d.c1 AS dev
FROM l JOIN billed b ON b.claim_id = l.claim_id AND b.dos <= l.dos AND b.e <> l.line
JOIN kb_implants_device d ON d.c0 = b.code;

CREATE OR REPLACE TEMP TABLE ib_state AS
SELECT i.*,
  EXISTS (SELECT 1 FROM ib j WHERE j.claim_id = i.claim_id AND j.line = i.line AND j.d1 > i.d1) AS superseded,
  EXISTS (SELECT 1 FROM billed r JOIN kb_removes_device rd ON rd.c0 = r.code AND rd.c1 = 'true'
          WHERE r.claim_id = i.claim_id AND i.d1 < r.dos AND r.dos < i.dl) AS removed
FROM ib i;

CREATE OR REPLACE TEMP TABLE rejects AS
SELECT claim_id, line, 'code.unknown' AS rule, code || ' is not a known code' AS msg
FROM l WHERE code NOT IN (SELECT c0 FROM kb_code)
UNION ALL
SELECT claim_id, line, 'role.needs-physician-or-qhp', code || ' requires a physician or QHP' FROM lr WHERE skill AND NOT permitted AND NOT pt
UNION ALL
SELECT claim_id, line, 'role.pt-scope', code || ' is outside a physical therapist''s listed scope' FROM lr WHERE skill AND pt AND NOT permitted
UNION ALL
SELECT claim_id, line, 'role.not-listed', code || ' may not be reported for ' || r FROM lr WHERE listed AND NOT skill AND NOT permitted
UNION ALL
SELECT DISTINCT c.claim_id, c.line, 'exclusion.component', c.code || ' is included in ' || c.code2
FROM conflict c JOIN outranks o ON o.c1 = c.code2 AND o.c2 = c.code
UNION ALL
SELECT DISTINCT c.claim_id, c.line, 'exclusion.no-single-code', c.code || ' and ' || c.code2 || ' need one code'
FROM conflict c
WHERE NOT EXISTS (SELECT 1 FROM inc i WHERE i.c1 = c.code AND i.c2 = c.code2)
  AND NOT EXISTS (SELECT 1 FROM inc i WHERE i.c1 = c.code2 AND i.c2 = c.code)
UNION ALL
SELECT DISTINCT c.claim_id, c.line, 'exclusion.already-billed', c.code2 || ' was already billed'
FROM conflict c JOIN outranks o ON o.c1 = c.code AND o.c2 = c.code2 WHERE c.e < 0
UNION ALL
SELECT DISTINCT c.claim_id, c.line, 'exclusion.duplicate-history', c.code2 || ' was already billed on that date'
FROM conflict c JOIN same_rank s ON s.c1 = c.code AND s.c2 = c.code2 WHERE c.e < 0
UNION ALL
SELECT DISTINCT c.claim_id, c.line, 'exclusion.duplicate-line', c.code || ' repeats line ' || c.e
FROM conflict c JOIN same_rank s ON s.c1 = c.code AND s.c2 = c.code2 WHERE c.e > 0 AND c.e < c.line
UNION ALL
SELECT DISTINCT i.claim_id, i.line, 'device.not-applicable', i.code || ' does not apply to ' || i.dev
FROM ib_state i JOIN kb_group_member g ON g.c0 = 'group-device-services' AND g.c1 = i.code
WHERE NOT i.superseded AND NOT i.removed
  AND EXISTS (SELECT 1 FROM kb_applies_to_device a WHERE a.c0 = i.code)
  AND NOT EXISTS (SELECT 1 FROM kb_applies_to_device a WHERE a.c0 = i.code AND a.c1 = i.dev)
UNION ALL
SELECT DISTINCT i.claim_id, i.line, 'device.removed', i.code || ' needs an implanted device'
FROM ib_state i JOIN kb_group_member g ON g.c0 = 'group-device-services' AND g.c1 = i.code
WHERE NOT i.superseded AND i.removed
UNION ALL
SELECT l.claim_id, l.line, 'drug.kd-modifier', l.code || ' needs modifier ' || rm.c1
FROM l JOIN kb_requires_modifier rm ON rm.c0 = l.code
WHERE NOT EXISTS (SELECT 1 FROM mods m WHERE m.claim_id = l.claim_id AND m.line = l.line AND m.m = rm.c1);

CREATE OR REPLACE TEMP TABLE warns AS
SELECT claim_id, line, 'role.clinical-staff-reports' AS rule FROM lr WHERE clinical AND code IN (SELECT c0 FROM kb_code)
UNION ALL
SELECT DISTINCT c.claim_id, c.line, 'exclusion.modifier-no-bypass'
FROM conflict c JOIN kb_modifier_may_bypass mb ON mb.c0 = c.x AND mb.c1 = 'false'
WHERE EXISTS (SELECT 1 FROM rejects r WHERE r.claim_id = c.claim_id AND r.line = c.line)
  AND EXISTS (SELECT 1 FROM mods m WHERE m.claim_id = c.claim_id AND m.line = c.line)
UNION ALL
SELECT l.claim_id, l.line, 'device.unconfirmed'
FROM l JOIN kb_group_member g ON g.c0 = 'group-analysis' AND g.c1 = l.code
WHERE NOT EXISTS (SELECT 1 FROM ib WHERE ib.claim_id = l.claim_id AND ib.line = l.line)
UNION ALL
SELECT l.claim_id, l.line, 'drug.without-refill'
FROM l JOIN kb_group_member g ON g.c0 = 'group-drug' AND g.c1 = l.code
WHERE NOT EXISTS (SELECT 1 FROM l r JOIN kb_covers_service cs ON cs.c0 = r.code AND cs.c1 = 'Refill'
                  JOIN kb_group_member gd ON gd.c0 = 'group-device-services' AND gd.c1 = r.code
                  WHERE r.claim_id = l.claim_id AND r.dos = l.dos)
UNION ALL
SELECT DISTINCT l.claim_id, l.line, 'reprogramming.every-refill'
FROM l JOIN kb_covers_service a ON a.c0 = l.code AND a.c1 = 'Reprogramming'
JOIN kb_covers_service b ON b.c0 = l.code AND b.c1 = 'Refill'
JOIN kb_group_member g ON g.c0 = 'group-analysis' AND g.c1 = l.code
JOIN billed h ON h.claim_id = l.claim_id AND h.e < 0 AND h.dos < l.dos
JOIN kb_group_member g2 ON g2.c0 = 'group-analysis' AND g2.c1 = h.code
JOIN kb_covers_service c2 ON c2.c0 = h.code AND c2.c1 = 'Refill';

-- Per line: most rejected lines have one reason and need no aggregation;
-- the others gather rule ids and messages into lists (cheaper in DuckDB than
-- string_agg with ORDER BY, which sorts its whole input).
CREATE OR REPLACE TEMP TABLE rn AS SELECT claim_id, line, count(*) AS n FROM rejects GROUP BY claim_id, line;

COPY (
  SELECT l.claim_id, l.line, l.code,
         CASE WHEN r.rules IS NULL THEN 'accepted' ELSE 'rejected' END AS status,
         r.rules, r.reasons, w.warnings
  FROM l
  LEFT JOIN (SELECT x.claim_id, x.line, x.rule AS rules, x.msg AS reasons
             FROM rejects x JOIN rn USING (claim_id, line) WHERE rn.n = 1
             UNION ALL
             SELECT x.claim_id, x.line, array_to_string(list_sort(list_distinct(list(x.rule))), ';'),
                    array_to_string(list_transform(list_sort(list_distinct(list(struct_pack(r := x.rule, m := x.msg)))),
                                                   lambda s: s.m), ' | ')
             FROM rejects x JOIN rn USING (claim_id, line) WHERE rn.n > 1
             GROUP BY x.claim_id, x.line) r USING (claim_id, line)
  LEFT JOIN (SELECT claim_id, line, array_to_string(list_sort(list_distinct(list(rule))), ';') AS warnings
             FROM warns GROUP BY claim_id, line) w USING (claim_id, line)
) TO '{out}' (FORMAT parquet);
