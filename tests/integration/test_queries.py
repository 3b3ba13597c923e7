"""Queries through the czar (port 4040) give the oracle's rows: types, values and NULLs.

Each query of ``QUERIES`` runs on the demo catalog in the cluster and on the same data
unpartitioned in one plain MariaDB (the oracle); rows are compared in order when the query has
ORDER BY, as multisets otherwise. The oracle has no sciSQL plugin: its SQL gets the areaspecs
as sciSQL predicates on Object's position and every sciSQL call as the same plain-SQL rewrite,
which equals the real sciSQL on all golden cases (tests/integration/test_scisql_golden.py).

Every query also runs through the ``mariadb`` CLI: all of them in one batch against the czar
and one against the oracle, whose text outputs are compared query by query.

Placeholders (filled from the oracle): ``FIRST_ID`` is the smallest objectId (the object at
RA exactly 0), ``SELECT_IDS`` the next five.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from qserv_py.cluster.local import LocalCluster
from tests.conftest import Demo
from tests.oracle import Oracle

pytestmark = pytest.mark.cluster
DB = "demo_dp02"

QUERIES = [
    # --- scans, projections, expressions
    "SELECT COUNT(*) FROM Object",
    "SELECT COUNT(*) FROM ForcedSource",
    "SELECT * FROM Object WHERE coord_dec > 85",
    "SELECT objectId, coord_ra, coord_dec FROM Object WHERE coord_ra > 359.9 OR coord_ra < 0.1",
    "SELECT objectId, g_cModelFlux / NULLIF(r_cModelFlux, 0) AS ratio FROM Object"
    " WHERE detect_isPrimary = 1 AND coord_dec BETWEEN -30 AND -29",
    "SELECT objectId, refBand, refExtendedness FROM Object WHERE refExtendedness IS NULL",
    "SELECT DISTINCT band FROM ForcedSource",
    "SELECT band, COUNT(*) FROM ForcedSource GROUP BY band ORDER BY band",
    "SELECT DISTINCT tract FROM Object ORDER BY tract",
    "SELECT objectId, coord_ra, ebv FROM Object ORDER BY objectId LIMIT 5",
    "SELECT `objectId`, `coord_ra` FROM `Object` WHERE `coord_dec` > 89",
    "SELECT COUNT(*) FROM demo_dp02.Object WHERE coord_dec > 85",
    "SELECT objectId, coord_ra + 1 AS ra1, coord_dec * 2 AS dec2, tract - patch AS tp,"
    " tract DIV 7 AS td, tract % 7 AS tm, patch / 4 AS pq FROM Object WHERE coord_dec > 88",
    "SELECT objectId, CASE WHEN refExtendedness IS NULL THEN 'unknown'"
    " WHEN refExtendedness > 0.5 THEN 'galaxy' ELSE 'star' END AS kind FROM Object"
    " WHERE coord_dec > 86",
    "SELECT objectId, CASE refBand WHEN 'i' THEN 1 WHEN 'r' THEN 2 ELSE NULL END AS code"
    " FROM Object WHERE coord_dec < -43.5",
    "SELECT objectId, IF(detect_isPrimary = 1, 'primary', 'not') AS p,"
    " IFNULL(u_cModelFlux, -1) AS u FROM Object WHERE coord_dec < -43.5",
    "SELECT objectId, COALESCE(u_cModelFlux, g_cModelFlux, 0) AS flux,"
    " NULLIF(refBand, 'i') AS band FROM Object WHERE coord_dec > 87",
    "SELECT objectId, CONCAT(refBand, '-', tract) AS s, UPPER(refBand) AS b,"
    " LENGTH(CONCAT('x', patch)) AS n, LPAD(patch, 3, '0') AS p,"
    " SUBSTRING(CAST(objectId AS CHAR), 1, 6) AS prefix, REPLACE(refBand, 'i', 'I') AS r"
    " FROM Object WHERE coord_dec > 88",
    "SELECT objectId, CONCAT('it''s ', refBand, '\\ttab') AS s, TRIM('  x  ') AS t,"
    " REVERSE(refBand) AS rv, LOCATE('i', refBand) AS l FROM Object WHERE coord_dec > 89",
    "SELECT objectId, CAST(coord_ra AS SIGNED) AS ra_i, CAST(tract AS CHAR) AS t,"
    " CAST(coord_dec AS DECIMAL(10, 4)) AS d, CAST(ebv AS DOUBLE) AS e,"
    " CAST(patch AS UNSIGNED) AS p FROM Object WHERE coord_dec > 88",
    "SELECT objectId, ROUND(coord_ra, 3) AS ra, FLOOR(coord_dec) AS f, CEIL(coord_dec) AS c,"
    " ABS(shape_xy) AS a, SQRT(shape_xx) AS s, POW(ebv, 2) AS p, LOG10(r_cModelFlux) AS l,"
    " SIN(RADIANS(coord_dec)) AS sd, DEGREES(ATAN2(shape_xy, shape_xx)) AS ang,"
    " SIGN(shape_xy) AS sg, MOD(tract, 10) AS m, EXP(-ebv) AS x, TRUNCATE(coord_ra, 1) AS tr"
    " FROM Object WHERE coord_dec > 88",
    "SELECT objectId, GREATEST(g_cModelFlux, r_cModelFlux) AS mx, LEAST(tract, patch) AS mn"
    " FROM Object WHERE coord_dec > 88",
    "SELECT objectId, r_cModelFlux / r_cModelFluxErr AS snr,"
    " -2.5 * LOG10(r_cModelFlux) + 31.4 AS rmag FROM Object"
    " WHERE coord_dec > 88 AND r_cModelFlux > 0",
    "SELECT objectId, objectId & 1 AS b, objectId >> 58 AS hi, tract | 1 AS o, tract ^ 3 AS x"
    " FROM Object WHERE coord_dec > 88",
    "SELECT objectId, ADDDATE('2020-02-28', tract % 3) AS d, DAYOFWEEK('2024-02-29') AS w,"
    " LAST_DAY('2023-02-10') AS l, DATEDIFF('2024-01-01', '2023-01-01') AS dd,"
    " DATE_FORMAT('2023-06-30 12:34:56', '%Y/%m/%d %H') AS f FROM Object WHERE coord_dec > 89",
    "SELECT objectId, u_cModelFlux <=> g_cModelFlux AS same, u_cModelFlux IS NULL AS un"
    " FROM Object WHERE coord_dec > 87",
    # numbers whose text differs between Python and MariaDB (0 vs 0.0, 1e16 vs 1e+16, ...)
    "SELECT objectId, coord_ra, coord_ra * 0 + 1e16 AS big, coord_ra * 0 + 1e-5 AS small,"
    " coord_ra * 0 + 1.5e-7 AS tiny, -0.0 * coord_ra AS zero, ebv * 0 + 30 AS thirty,"
    " ebv * 1e10 AS e10 FROM Object WHERE coord_dec > 89.9",
    "SELECT MIN(coord_ra * 0 + 1e-5) AS small, MAX(coord_ra * 0 + 1e16) AS big,"
    " MIN(coord_ra) AS ra0, MAX(-0.0 * coord_ra) AS zero FROM Object WHERE coord_dec > 89.9",
    "SELECT MAX(expTime) AS t, MIN(seeing * 0) AS zero, MIN(seeing) * 1e20 AS big FROM CcdVisit",
    "SELECT objectId, 'héllo wörld ✓' AS s, 1 + 1 AS two FROM Object WHERE coord_dec > 89.9",
    "SELECT objectId, HEX(objectId) AS h, BIN(patch) AS b, CONV(tract, 10, 16) AS c FROM Object"
    " WHERE coord_dec > 89",
    "SELECT CAST(coord_ra AS CHAR) AS r, CAST(ebv AS CHAR) AS e, CAST(1e16 AS CHAR) AS x"
    " FROM Object WHERE coord_dec > 89.9",
    "SELECT objectId, coord_ra / 0 AS d, LOG(-1) AS l, SQRT(-1) AS s, 5 DIV 0 AS q, 5 % 0 AS m,"
    " patch <=> NULL AS a, NULL AS n, NULL + 1 AS nn FROM Object WHERE coord_dec > 89.9",
    "select count(*) from Object where coord_dec > 85",
    "SELECT Object.objectId, Object.coord_ra FROM Object WHERE Object.coord_dec > 89.5",
    "SELECT o.* FROM Object AS o WHERE o.coord_dec > 89.5",
    # --- WHERE: AND / OR / NOT / IN / BETWEEN / LIKE / IS NULL
    "SELECT objectId FROM Object WHERE objectId & 1 = 1 AND coord_dec > 86",
    "SELECT objectId FROM Object WHERE refExtendedness <=> NULL",
    "SELECT objectId, tract, patch FROM Object WHERE tract = 2647 AND (patch < 10 OR patch > 40)",
    "SELECT objectId FROM Object WHERE NOT (coord_dec < 85) AND refBand IN ('g', 'r')",
    "SELECT objectId, refBand FROM Object"
    " WHERE refBand NOT IN ('i', 'r', 'z') AND coord_dec BETWEEN -40 AND -35",
    "SELECT objectId, coord_ra FROM Object WHERE coord_ra NOT BETWEEN 1 AND 359 AND coord_dec > 0",
    "SELECT objectId, refBand FROM Object WHERE refBand LIKE 'y%' AND coord_dec > -30",
    "SELECT COUNT(*) FROM Object WHERE CAST(objectId AS CHAR) LIKE '%7_'",
    "SELECT objectId, refBand FROM Object WHERE refBand NOT LIKE '_' OR coord_dec > 89.5",
    "SELECT objectId, u_cModelFlux, u_cModelFluxErr FROM Object"
    " WHERE u_cModelFlux IS NULL AND coord_dec > 85",
    "SELECT COUNT(*) FROM Object WHERE shape_xx IS NOT NULL AND refExtendedness IS NULL",
    "SELECT objectId FROM Object WHERE (detect_isPrimary = 1 AND refBand = 'u')"
    " OR (detect_isPrimary = 0 AND refBand = 'y')",
    "SELECT objectId, coord_ra FROM Object"
    " WHERE coord_dec > 0 AND (objectId = FIRST_ID OR coord_ra > 359.999)",
    "SELECT COUNT(*) AS n FROM ForcedSource WHERE psfFlux > 10 * psfFluxErr AND band IN ('g', 'r')",
    "SELECT objectId FROM Object WHERE refBand = 'I' AND coord_dec > 88",
    "SELECT objectId FROM Object WHERE NOT detect_isPrimary AND coord_dec > 85",
    "SELECT objectId FROM Object WHERE (coord_dec > 88) XOR (refBand = 'i') AND coord_dec > 87",
    "SELECT objectId, coord_ra FROM Object WHERE coord_ra = 0",
    "SELECT objectId FROM Object WHERE coord_ra >= 359.9999999",
    "SELECT objectId, coord_ra FROM Object WHERE coord_dec > 89.9 LIMIT 100",
    # --- spatial areas (the oracle gets sciSQL predicates on coord_ra, coord_dec)
    "SELECT objectId, coord_ra, coord_dec FROM Object"
    " WHERE qserv_areaspec_circle(62.0, -37.0, 0.2)",
    "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_box(359.5, -1.0, 0.5, 1.0)",
    "SELECT objectId FROM Object WHERE qserv_areaspec_ellipse(62.5, -36.5, 3600, 2400, 30)",
    "SELECT COUNT(*), AVG(coord_dec) FROM Object"
    " WHERE qserv_areaspec_poly(60, -40, 65, -40, 62, -35)",
    "SELECT objectId FROM Object"
    " WHERE qserv_areaspec_circle(10.0, 89.99, 0.5) AND detect_isPrimary = 1",
    "SELECT objectId, scisql_nanojanskyToAbMag(g_cModelFlux) AS gmag FROM Object"
    " WHERE qserv_areaspec_circle(62.0, -37.0, 0.1) AND detect_isPrimary = 1",
    "SELECT COUNT(*) FROM Object WHERE scisql_s2PtInCircle(coord_ra, coord_dec, 0.0, 0.0, 1.0) = 1",
    "SELECT o.objectId, scisql_angSep(o.coord_ra, o.coord_dec, 62.0, -37.0) AS d FROM Object AS o"
    " WHERE qserv_areaspec_circle(62.0, -37.0, 0.05) ORDER BY d, o.objectId",
    "SELECT objectId, coord_ra, coord_dec FROM Object WHERE qserv_areaspec_box(358, -2, 2, 2)",
    "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_circle(0.0, 1.0, 0.05)",
    "SELECT objectId, coord_ra, coord_dec FROM Object"
    " WHERE qserv_areaspec_circle(0.0, 90.0, 0.04) ORDER BY objectId",
    "SELECT objectId, coord_ra FROM Object WHERE qserv_areaspec_box(0, 89.9, 360, 90)",
    "SELECT objectId FROM Object WHERE qserv_areaspec_ellipse(0.0, 1.0, 300, 150, 45)",
    "SELECT objectId, coord_ra FROM Object"
    " WHERE qserv_areaspec_poly(359, -1, 1, -1, 1, 3, 359, 3) ORDER BY objectId",
    "SELECT objectId FROM Object WHERE qserv_areaspec_poly(0, 88, 120, 88, 240, 88)",
    "SELECT objectId, refBand FROM Object WHERE qserv_areaspec_box(50, -44, 75, -28)"
    " AND refBand = 'u' AND detect_isPrimary = 1",
    "SELECT objectId FROM Object WHERE 1 = qserv_areaspec_box(359, -6, 1, 6) ORDER BY objectId",
    "SELECT objectId FROM Object WHERE qserv_areaspec_circle(0.0, 1.0, 0.03) = 1"
    " AND refExtendedness IS NOT NULL",
    "SELECT COUNT(*) FROM Object WHERE QsErV_ArEaSpEc_BoX(355, -6, 5, 6)",
    "SELECT objectId FROM Object WHERE qserv_areaspec_box(355, -6, 5, 6)"
    " ORDER BY objectId LIMIT 10",
    "SELECT objectId, AVG(coord_ra) AS ra FROM Object WHERE qserv_areaspec_box(0, 0, 3, 10)"
    " GROUP BY objectId ORDER BY ra",
    "SELECT COUNT(*) AS OBJ_COUNT FROM Object WHERE qserv_areaspec_box(355, -6, 5, 6)"
    " AND scisql_nanojanskyToAbMag(z_cModelFlux) BETWEEN 20 AND 24"
    " AND scisql_nanojanskyToAbMag(g_cModelFlux) - scisql_nanojanskyToAbMag(r_cModelFlux)"
    " BETWEEN 0.1 AND 0.9",
    "SELECT refBand, COUNT(*) AS n FROM Object WHERE qserv_areaspec_circle(62.0, -37.0, 3)"
    " GROUP BY refBand ORDER BY refBand",
    "SELECT objectId FROM Object WHERE qserv_areaspec_circle(180.0, 0.0, 1.0)",
    "SELECT objectId, coord_ra FROM Object WHERE qserv_areaspec_box(359.999, -6, 0.001, 6)",
    "SELECT objectId, coord_ra FROM Object WHERE qserv_areaspec_box(-1, -6, 1, 6)",
    "SELECT objectId FROM Object WHERE qserv_areaspec_circle(360.0, 1.0, 0.05)",
    "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_circle(0, 90, 5)",
    "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_box(0, 85, 360, 90) AND coord_dec < 89",
    "SELECT COUNT(*) FROM Object WHERE qserv_areaspec_poly(0, 85, 90, 85, 180, 85, 270, 85)",
    "SELECT objectId FROM Object WHERE qserv_areaspec_ellipse(0, 90, 100, 50, 0)",
    # a cluster on the boundary between stripes 26 and 27
    "SELECT objectId, coord_dec FROM Object WHERE qserv_areaspec_circle(70.25, -32.8235, 0.03)",
    "SELECT COUNT(*), MAX(coord_dec) FROM Object WHERE qserv_areaspec_box(170, -10, 190, 10)",
    # --- sciSQL geometry in SELECT and WHERE
    "SELECT COUNT(*) AS OBJ_COUNT FROM Object"
    " WHERE scisql_angSep(coord_ra, coord_dec, 0.0, 1.0) < 0.2",
    "SELECT * FROM Object WHERE scisql_s2PtInBox(coord_ra, coord_dec, 359.99, 0.9, 0.01, 1.1) = 1"
    " ORDER BY objectId LIMIT 10",
    "SELECT objectId FROM Object"
    " WHERE scisql_s2PtInEllipse(coord_ra, coord_dec, 62, -37, 200, 100, 0) = 1",
    "SELECT objectId FROM Object"
    " WHERE scisql_s2PtInCPoly(coord_ra, coord_dec,"
    " 61.9, -37.1, 62.1, -37.1, 62.1, -36.9, 61.9, -36.9) = 1",
    "SELECT objectId, scisql_s2PtInCircle(coord_ra, coord_dec, 62.0, -37.0, 0.03) AS inside,"
    " scisql_s2PtInBox(coord_ra, coord_dec, 61.95, -37.05, 62.05, -36.95) AS inbox FROM Object"
    " WHERE coord_dec BETWEEN -37.1 AND -36.9 AND coord_ra BETWEEN 61.9 AND 62.1",
    "SELECT objectId, scisql_angSep(coord_ra, coord_dec, 0.0, 90.0) AS polar FROM Object"
    " WHERE coord_dec > 89.95",
    "SELECT objectId, scisql_angSep(coord_ra, coord_dec, 359.9, 1.0) AS d FROM Object"
    " WHERE scisql_angSep(coord_ra, coord_dec, 359.9, 1.0) < 0.5 ORDER BY d, objectId LIMIT 20",
    # --- sciSQL photometry
    "SELECT objectId, scisql_nanojanskyToAbMag(r_cModelFlux) AS r,"
    " scisql_nanojanskyToAbMagSigma(r_cModelFlux, r_cModelFluxErr) AS rerr,"
    " scisql_fluxToAbMag(r_cModelFlux * 1e-32) AS rf,"
    " scisql_fluxToAbMagSigma(r_cModelFlux * 1e-32, r_cModelFluxErr * 1e-32) AS rferr"
    " FROM Object WHERE coord_dec > 87",
    "SELECT objectId, scisql_abMagToFlux(20.5) AS f, scisql_abMagToFluxSigma(20.5, 0.1) AS fs,"
    " scisql_abMagToNanojansky(tract / 100) AS nj,"
    " scisql_abMagToNanojanskySigma(tract / 100, 0.05) AS njs FROM Object WHERE coord_dec > 88",
    "SELECT objectId, scisql_nanojanskyToAbMag(u_cModelFlux) AS u FROM Object"
    " WHERE u_cModelFlux IS NULL OR u_cModelFlux < 0",
    "SELECT refBand, COUNT(*) AS n FROM Object"
    " WHERE scisql_nanojanskyToAbMag(i_cModelFlux) < 24 GROUP BY refBand",
    "SELECT MIN(scisql_nanojanskyToAbMag(r_cModelFlux)) AS rmin,"
    " MAX(scisql_nanojanskyToAbMag(r_cModelFlux)) AS rmax FROM Object",
    "SELECT forcedSourceId, scisql_nanojanskyToAbMag(psfFlux) AS mag,"
    " scisql_nanojanskyToAbMagSigma(psfFlux, psfFluxErr) AS magErr FROM ForcedSource"
    " WHERE objectId = FIRST_ID ORDER BY forcedSourceId",
    # --- aggregates, GROUP BY, HAVING
    "SELECT band, COUNT(*), AVG(psfFlux), MIN(psfFlux), MAX(psfFlux), SUM(psfFluxErr)"
    " FROM ForcedSource GROUP BY band",
    "SELECT detect_isPrimary, COUNT(*) AS n FROM Object GROUP BY detect_isPrimary ORDER BY n",
    "SELECT tract, COUNT(*) AS n FROM Object GROUP BY tract HAVING COUNT(*) > 40 ORDER BY tract",
    "SELECT MIN(coord_ra), MAX(coord_ra), AVG(coord_dec) FROM Object",
    "SELECT COUNT(u_cModelFlux), COUNT(*) FROM Object",
    "SELECT SUM(detect_isPrimary) FROM Object WHERE coord_dec < -40",
    "SELECT COUNT(*) FROM Object WHERE coord_dec > 100",
    "SELECT COUNT(*), MIN(coord_dec) FROM Object",
    "SELECT refBand, detect_isPrimary, COUNT(*), MIN(coord_dec), MAX(coord_dec) FROM Object"
    " GROUP BY refBand, detect_isPrimary",
    "SELECT tract DIV 100 AS t, COUNT(*) AS n FROM Object GROUP BY t ORDER BY t",
    "SELECT FLOOR(coord_dec / 10) AS d, COUNT(*) AS n FROM Object GROUP BY FLOOR(coord_dec / 10)",
    "SELECT band, AVG(psfFlux) AS a FROM ForcedSource GROUP BY band HAVING AVG(psfFlux) > 1000",
    "SELECT objectId, MAX(psfFlux) - MIN(psfFlux) AS flx FROM ForcedSource GROUP BY objectId"
    " HAVING flx > 50000 ORDER BY objectId LIMIT 5",
    "SELECT objectId, band FROM ForcedSource WHERE objectId IN (SELECT_IDS)"
    " GROUP BY objectId, band",
    "SELECT COUNT(*), SUM(tract), MIN(refBand), MAX(refBand) FROM Object",
    "SELECT AVG(tract), AVG(detect_isPrimary) FROM Object",
    "SELECT SUM(ebv), AVG(ebv), MIN(ebv), MAX(ebv) FROM Object",
    "SELECT refBand, COUNT(*) AS n FROM Object GROUP BY refBand HAVING n > 100 ORDER BY n DESC",
    "SELECT band, COUNT(*) AS n, SUM(psfFlux_flag) AS flagged FROM ForcedSource"
    " WHERE psfFlux IS NULL GROUP BY band ORDER BY band",
    "SELECT COUNT(*), MIN(coord_ra), SUM(tract), AVG(coord_dec) FROM Object WHERE coord_dec > 95",
    "SELECT refBand, COUNT(*) FROM Object WHERE coord_dec > 95 GROUP BY refBand",
    "SELECT MAX(objectId), MIN(objectId), MAX(forcedSourceId) FROM ForcedSource",
    "SELECT refBand, MIN(objectId) AS first, MAX(r_cModelFlux) AS brightest FROM Object"
    " WHERE coord_dec > 85 GROUP BY refBand ORDER BY refBand",
    "SELECT band, COUNT(*) FROM ForcedSource GROUP BY 1",
    "SELECT SUM(psfFlux) / COUNT(psfFlux) AS mean, COUNT(*) * 2 + 1 AS x FROM ForcedSource",
    "SELECT SUM(CASE WHEN refExtendedness > 0.5 THEN 1 ELSE 0 END) AS galaxies,"
    " SUM(IF(refExtendedness IS NULL, 1, 0)) AS unknown FROM Object",
    "SELECT MIN(refBand), MAX(refBand), MIN(DATE_ADD('2020-01-01', INTERVAL tract DAY)) AS d"
    " FROM Object",
    "SELECT refBand, AVG(tract) AS t FROM Object GROUP BY refBand HAVING AVG(tract) > 3000",
    "SELECT tract, patch, COUNT(*) AS n FROM Object GROUP BY tract, patch HAVING n >= 5"
    " ORDER BY n DESC, tract, patch",
    "SELECT refBand, MAX(coord_dec) - MIN(coord_dec) AS span, COUNT(*) / 3000 AS frac FROM Object"
    " GROUP BY refBand",
    "SELECT COUNT(*), COUNT(refExtendedness), COUNT(1), COUNT(NULL) FROM Object",
    "SELECT band, COUNT(psfFlux) AS n, COUNT(*) - COUNT(psfFlux) AS nulls FROM ForcedSource"
    " GROUP BY band ORDER BY band",
    # --- ORDER BY, LIMIT, OFFSET
    "SELECT objectId, coord_ra FROM Object ORDER BY coord_ra DESC, objectId LIMIT 5",
    "SELECT objectId, coord_dec FROM Object ORDER BY coord_dec, objectId LIMIT 3 OFFSET 10",
    "SELECT forcedSourceId, psfFlux FROM ForcedSource WHERE psfFlux IS NOT NULL"
    " ORDER BY psfFlux DESC, forcedSourceId LIMIT 10",
    "SELECT objectId, tract, patch FROM Object ORDER BY tract DESC, patch, objectId LIMIT 15",
    "SELECT objectId, coord_ra FROM Object WHERE coord_dec > 85 ORDER BY coord_ra LIMIT 5, 5",
    "SELECT refBand, COUNT(*) AS n FROM Object GROUP BY refBand ORDER BY n DESC LIMIT 3",
    "SELECT objectId FROM Object ORDER BY objectId LIMIT 0",
    "SELECT objectId, coord_dec FROM Object WHERE coord_dec > 85 ORDER BY coord_dec DESC",
    "SELECT forcedSourceId, objectId, psfFlux FROM ForcedSource"
    " ORDER BY psfFlux, forcedSourceId LIMIT 7 OFFSET 100",
    "SELECT objectId, u_cModelFlux FROM Object WHERE coord_dec > 86"
    " ORDER BY u_cModelFlux, objectId",
    "SELECT objectId, coord_ra FROM Object WHERE coord_dec > 85 ORDER BY objectId LIMIT 1000",
    "SELECT objectId AS id, coord_dec FROM Object WHERE coord_dec > 88 ORDER BY id LIMIT 3",
    "SELECT refBand, COUNT(*) FROM Object GROUP BY refBand ORDER BY COUNT(*) DESC",
    "SELECT refBand, COUNT(*) AS n FROM Object GROUP BY refBand ORDER BY 2 DESC, 1",
    "SELECT objectId FROM Object WHERE coord_dec > 89 ORDER BY objectId LIMIT 5 OFFSET 1000",
    # --- DISTINCT
    "SELECT DISTINCT refBand, detect_isPrimary FROM Object",
    "SELECT DISTINCT tract DIV 1000 AS t FROM Object ORDER BY t",
    "SELECT DISTINCT band FROM ForcedSource WHERE objectId = FIRST_ID ORDER BY band",
    "SELECT DISTINCT refExtendedness FROM Object",
    "SELECT DISTINCT refBand FROM Object WHERE coord_dec > 85 ORDER BY refBand LIMIT 2",
    # --- director index: Object.objectId and ForcedSource.objectId
    "SELECT * FROM Object WHERE objectId IN (SELECT_IDS)",
    "SELECT forcedSourceId, ccdVisitId, band, psfFlux FROM ForcedSource"
    " WHERE objectId = FIRST_ID ORDER BY forcedSourceId",
    "SELECT COUNT(*) FROM ForcedSource WHERE objectId IN (SELECT_IDS)",
    "SELECT objectId, coord_ra, coord_dec FROM Object WHERE objectId = FIRST_ID",
    "SELECT * FROM Object WHERE objectId = 1152921504606846977",
    "SELECT objectId FROM Object WHERE objectId = FIRST_ID AND qserv_areaspec_box(355, -6, 5, 6)",
    "SELECT objectId FROM Object"
    " WHERE qserv_areaspec_circle(62.0, -37.0, 1) AND objectId = FIRST_ID",
    "SELECT objectId, coord_dec FROM Object WHERE objectId IN (SELECT_IDS)"
    " AND qserv_areaspec_box(50, -44, 75, -28) ORDER BY objectId",
    "SELECT objectId, coord_ra FROM Object WHERE objectId NOT IN (SELECT_IDS) AND coord_dec > 89",
    "SELECT COUNT(*) FROM ForcedSource WHERE objectId = FIRST_ID AND band = 'r'",
    "SELECT objectId, forcedSourceId FROM ForcedSource WHERE objectId IN (SELECT_IDS)"
    " AND psfFlux > 1000",
    "SELECT o.objectId, o.coord_ra FROM Object AS o WHERE o.objectId IN (SELECT_IDS)"
    " ORDER BY o.objectId",
    "SELECT * FROM ForcedSource WHERE objectId = 1",
    "SELECT objectId, coord_dec FROM Object WHERE FIRST_ID = objectId",
    "SELECT objectId FROM Object WHERE objectId = 'FIRST_ID'",
    "SELECT objectId FROM Object WHERE objectId IN (FIRST_ID, FIRST_ID, SELECT_IDS)",
    "SELECT DISTINCT objectId FROM ForcedSource WHERE objectId IN (SELECT_IDS)",
    "SELECT objectId, COUNT(*) AS n, AVG(psfFlux) AS mean FROM ForcedSource"
    " WHERE objectId IN (FIRST_ID, SELECT_IDS) GROUP BY objectId ORDER BY objectId",
    # --- the regular table CcdVisit alone (the dummy chunk), and joined
    "SELECT * FROM CcdVisit WHERE band = 'r' ORDER BY ccdVisitId LIMIT 20",
    "SELECT band, COUNT(*), AVG(seeing) FROM CcdVisit GROUP BY band ORDER BY band",
    "SELECT ccdVisitId, seeing, zeroPoint FROM CcdVisit ORDER BY ccdVisitId LIMIT 5",
    "SELECT COUNT(*) FROM CcdVisit",
    "SELECT visitId, COUNT(*) AS n, MIN(detector), MAX(detector) FROM CcdVisit"
    " GROUP BY visitId HAVING n >= 16 ORDER BY visitId LIMIT 10",
    "SELECT band, MIN(expMidptMJD), MAX(expMidptMJD), SUM(expTime) FROM CcdVisit GROUP BY band",
    "SELECT ccdVisitId, DATE_ADD('1858-11-17', INTERVAL FLOOR(expMidptMJD) DAY) AS obsDate,"
    " ROUND(seeing, 2) AS s FROM CcdVisit WHERE detector = 0 ORDER BY ccdVisitId LIMIT 5",
    "SELECT * FROM CcdVisit WHERE seeing > 1.3",
    "SELECT DISTINCT band FROM CcdVisit ORDER BY band",
    "SELECT * FROM CcdVisit WHERE band = 'x'",
    "SELECT v.band, COUNT(*) AS n FROM CcdVisit AS v WHERE v.detector < 3 GROUP BY v.band",
    # (CcdVisit has no index: a join of all ForcedSource with all CcdVisit takes seconds)
    "SELECT f.band, COUNT(*), AVG(v.seeing) FROM ForcedSource AS f"
    " JOIN CcdVisit AS v ON f.ccdVisitId = v.ccdVisitId WHERE v.detector < 10 GROUP BY f.band",
    "SELECT f.forcedSourceId, f.psfFlux, v.seeing, v.expMidptMJD FROM ForcedSource AS f"
    " JOIN CcdVisit AS v ON f.ccdVisitId = v.ccdVisitId WHERE f.objectId IN (SELECT_IDS)"
    " ORDER BY f.forcedSourceId",
    "SELECT f.forcedSourceId, v.expMidptMJD, f.psfFlux, f.psfFluxErr FROM ForcedSource AS f"
    " JOIN CcdVisit AS v USING (ccdVisitId) WHERE f.objectId = FIRST_ID AND v.band = 'r'"
    " ORDER BY v.expMidptMJD, f.forcedSourceId",
    "SELECT f.objectId FROM ForcedSource AS f JOIN CcdVisit AS v USING (ccdVisitId)"
    " WHERE v.visitId IN (162140, 346801, 440396) ORDER BY f.objectId LIMIT 10",
    "SELECT v.band AS vband, f.band AS fband, COUNT(*) AS n FROM ForcedSource AS f, CcdVisit AS v"
    " WHERE f.ccdVisitId = v.ccdVisitId AND f.objectId IN (SELECT_IDS) GROUP BY v.band, f.band",
    "SELECT f.objectId, COUNT(*) AS n, AVG(v.seeing) AS s FROM ForcedSource AS f"
    " JOIN CcdVisit AS v ON f.ccdVisitId = v.ccdVisitId WHERE v.seeing < 0.5"
    " GROUP BY f.objectId ORDER BY n DESC, f.objectId LIMIT 10",
    "SELECT o.objectId, v.ccdVisitId FROM Object AS o JOIN CcdVisit AS v ON v.detector = o.patch"
    " WHERE o.objectId = FIRST_ID AND v.visitId = 162140",
    "SELECT o.objectId, v.ccdVisitId, v.detector FROM Object AS o, CcdVisit AS v"
    " WHERE qserv_areaspec_circle(0.0, 90.0, 0.04) AND v.detector = o.tract % 189"
    " AND v.band = 'g' ORDER BY o.objectId, v.ccdVisitId",
    # --- chunk columns are visible, as in Qserv (checked against totals: see CHUNK_TOTALS)
    "SELECT chunkId, COUNT(*) FROM Object GROUP BY chunkId",
    "SELECT chunkId, subChunkId, COUNT(*) AS n FROM Object GROUP BY chunkId, subChunkId",
    "SELECT chunkId, COUNT(*) AS n FROM ForcedSource WHERE band = 'g' GROUP BY chunkId",
    # --- NULL-heavy columns
    "SELECT objectId, u_cModelFlux, y_cModelFlux, refExtendedness, shape_xx FROM Object"
    " WHERE u_cModelFlux IS NULL OR y_cModelFlux IS NULL",
    "SELECT forcedSourceId, psfFlux, psfDiffFlux FROM ForcedSource"
    " WHERE psfFlux IS NULL AND psfDiffFlux IS NULL",
    "SELECT SUM(u_cModelFlux IS NULL), COUNT(u_cModelFlux), MIN(u_cModelFlux),"
    " MAX(y_cModelFlux) FROM Object",
    "SELECT refExtendedness, COUNT(*) AS n FROM Object GROUP BY refExtendedness",
    "SELECT AVG(u_cModelFlux), SUM(u_cModelFlux), MIN(u_cModelFlux) FROM Object"
    " WHERE u_cModelFlux IS NULL",
    "SELECT objectId, shape_xx, shape_yy, shape_xy, i_extendedness FROM Object"
    " WHERE shape_xx IS NULL ORDER BY objectId",
]

CHUNK_TOTALS = {
    "SELECT chunkId, COUNT(*) FROM Object GROUP BY chunkId": "SELECT COUNT(*) FROM Object",
    "SELECT chunkId, subChunkId, COUNT(*) AS n FROM Object GROUP BY chunkId, subChunkId": (
        "SELECT COUNT(*) FROM Object"
    ),
    "SELECT chunkId, COUNT(*) AS n FROM ForcedSource WHERE band = 'g' GROUP BY chunkId": (
        "SELECT COUNT(*) FROM ForcedSource WHERE band = 'g'"
    ),
}
"""The oracle has no chunk columns: a query on them is checked by its last column's total."""

EMPTY = {
    "SELECT COUNT(*) FROM Object WHERE coord_dec > 100",  # one row: 0
    "SELECT objectId FROM Object WHERE qserv_areaspec_circle(180.0, 0.0, 1.0)",
    "SELECT objectId FROM Object ORDER BY objectId LIMIT 0",
    "SELECT refBand, COUNT(*) FROM Object WHERE coord_dec > 95 GROUP BY refBand",
    "SELECT * FROM Object WHERE objectId = 1152921504606846977",
    "SELECT objectId FROM Object"
    " WHERE qserv_areaspec_circle(62.0, -37.0, 1) AND objectId = FIRST_ID",
    "SELECT * FROM ForcedSource WHERE objectId = 1",
    "SELECT * FROM CcdVisit WHERE band = 'x'",
    "SELECT COUNT(*), MIN(coord_ra), SUM(tract), AVG(coord_dec) FROM Object WHERE coord_dec > 95",
    "SELECT objectId FROM Object WHERE coord_dec > 89 ORDER BY objectId LIMIT 5 OFFSET 1000",
    "SELECT COUNT(*), MAX(coord_dec) FROM Object WHERE qserv_areaspec_box(170, -10, 190, 10)",
    "SELECT AVG(u_cModelFlux), SUM(u_cModelFlux), MIN(u_cModelFlux) FROM Object"
    " WHERE u_cModelFlux IS NULL",
}
"""Queries with no rows, or only a row of zeros and NULLs; every other query must find rows."""


@pytest.fixture(scope="module")
def ids(demo_loaded: Demo, oracle: Oracle) -> list[int]:
    rows = oracle.query("SELECT objectId FROM Object ORDER BY objectId LIMIT 7", DB)
    return [int(r[0]) for r in rows]


@pytest.fixture(scope="module")
def czar(cluster: LocalCluster, demo_loaded: Demo) -> Iterator[pymysql.connections.Connection[Any]]:
    conn = pymysql.connect(
        host="127.0.0.1", port=cluster.config.frontend_port, user="qsmaster", database=DB
    )
    try:
        yield conn
    finally:
        conn.close()


def _fill(sql: str, ids: list[int]) -> str:
    return sql.replace("SELECT_IDS", ", ".join(map(str, ids[1:6]))).replace("FIRST_ID", str(ids[0]))


def oracle_sql(sql: str) -> str:
    """The query for the plain MariaDB: areaspecs become sciSQL predicates on Object's position,
    and sciSQL calls become plain SQL (the rewrite equals the real sciSQL on all golden cases).
    Queries with neither are left as they are."""
    if "scisql_" not in sql.lower() and "qserv_areaspec_" not in sql.lower():
        return sql
    import sqlglot

    from qserv_py.czar.scisql import rewrite_scisql

    tree = sqlglot.parse_one(sql, read="mysql")
    names = {
        "qserv_areaspec_circle": "scisql_s2PtInCircle",
        "qserv_areaspec_box": "scisql_s2PtInBox",
        "qserv_areaspec_ellipse": "scisql_s2PtInEllipse",
        "qserv_areaspec_poly": "scisql_s2PtInCPoly",
    }
    for call in list(tree.find_all(sqlglot.exp.Anonymous)):
        target = names.get(call.name.lower())
        if target:
            args = [
                sqlglot.exp.column("coord_ra"),
                sqlglot.exp.column("coord_dec"),
                *call.expressions,
            ]
            predicate = sqlglot.exp.Anonymous(this=target, expressions=args)
            if isinstance(call.parent, sqlglot.exp.EQ):  # `1 = qserv_areaspec_box(...)`
                call.replace(predicate)
            else:
                call.replace(
                    sqlglot.exp.EQ(this=predicate, expression=sqlglot.exp.Literal.number(1))
                )
    return rewrite_scisql(tree).sql(dialect="mysql", copy=False)


def _sums(sql: str) -> bool:
    """The query adds up doubles (SUM, AVG). Added per chunk and then across chunks, they differ
    from one sequential sum in the last bits, in qserv-py as in Qserv; in such queries (only)
    floating-point values are compared to 12 significant digits, everything else exactly."""
    return "SUM(" in sql.upper() or "AVG(" in sql.upper()


def _rows(conn: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return [d[0] for d in cur.description], list(cur.fetchall())


def _comparable(rows: list[tuple[Any, ...]], sums: bool = False) -> list[tuple[Any, ...]]:
    """Rows with each value tagged by its Python type, so 1 and 1.0 and '1' differ; floats
    rounded to 12 significant digits when ``sums`` (see ``_sums``)."""

    def tag(v: Any) -> tuple[str, Any]:
        if sums and isinstance(v, float):
            return ("float", float(f"{v:.12g}"))
        return (type(v).__name__, v)

    return [tuple(tag(v) for v in row) for row in rows]


def _found_rows(rows: list[tuple[Any, ...]]) -> bool:
    return any(v not in (0, None) for row in rows for v in row)


@pytest.mark.parametrize("sql", QUERIES)
def test_query_matches_oracle(sql: str, czar: Any, oracle: Oracle, ids: list[int]) -> None:
    template, sql = sql, _fill(sql, ids)
    names, got = _rows(czar, sql)
    if template in CHUNK_TOTALS:  # the oracle has no chunk columns: check the total instead
        assert sum(row[-1] for row in got) == oracle.query(CHUNK_TOTALS[template], DB)[0][0]
        return
    reference = oracle.connect(DB)
    try:
        expected_names, expected = _rows(reference, oracle_sql(sql))
    finally:
        reference.close()
    assert _found_rows(expected) == (template not in EMPTY), "EMPTY lists the queries without rows"
    if names == [*expected_names, "chunkId", "subChunkId"]:  # SELECT *: Qserv shows them too
        names, got = names[:-2], [row[:-2] for row in got]
    assert names == expected_names
    sums = _sums(sql)
    if "ORDER BY" in sql.upper():  # every ORDER BY here gives a total order
        assert _comparable(got, sums) == _comparable(expected, sums)
    else:
        assert Counter(_comparable(got, sums)) == Counter(_comparable(expected, sums))


_MARKER = "query_marker"


def _batch(statements: list[str]) -> str:
    """One input for ``mariadb --batch``: each statement preceded by a marker query whose
    output (``query_marker``, then the statement's index) splits the output per statement."""
    return "".join(f"SELECT {i} AS {_MARKER};\n{sql};\n" for i, sql in enumerate(statements))


def _split(output: str) -> dict[int, list[str]]:
    """Each statement's output lines (header first; none at all for an empty result)."""
    parts: dict[int, list[str]] = {}
    lines = iter(output.splitlines())
    current: list[str] = []
    for line in lines:
        if line == _MARKER:
            current = parts.setdefault(int(next(lines)), [])
        else:
            current.append(line)
    return parts


def _run_batches(runs: list[tuple[int, str, str, list[str]]], directory: Path) -> list[str]:
    """Run each ``(port, user, password, statements)`` as one ``mariadb --batch`` process,
    all at the same time; their standard outputs."""
    processes = []
    for k, (port, user, password, statements) in enumerate(runs):
        script, out, err = (directory / f"batch{k}.{ext}" for ext in ("sql", "out", "err"))
        script.write_text(_batch(statements))
        command = ["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", user]
        command += [f"-p{password}"] if password else []
        command += ["--skip-ssl", "--batch", "--column-names", DB]
        with script.open() as stdin, out.open("w") as stdout, err.open("w") as stderr:
            processes.append(
                (subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr), out, err)
            )
    try:
        for process, _, err in processes:
            # an error stops the batch; "at line 2k + 2" of the script is statement k
            assert process.wait(timeout=300) == 0, err.read_text()
    finally:
        for process, _, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [out.read_text() for _, out, _ in processes]


def _cli_text(lines: list[str], sql: str) -> list[str]:
    """Output lines made comparable: rows sorted unless ORDER BY; with SUM/AVG (see ``_sums``)
    every field that reads as a non-integer number rounded to 12 significant digits."""

    def field(text: str) -> str:
        if _sums(sql) and any(c in text for c in ".eE"):
            try:
                return f"{float(text):.12g}"
            except ValueError:
                return text
        return text

    lines = ["\t".join(field(f) for f in line.split("\t")) for line in lines]
    if "ORDER BY" in sql.upper():
        return lines
    return lines[:1] + sorted(lines[1:])


def test_mariadb_cli_output_matches_oracle(
    cluster: LocalCluster, oracle: Oracle, ids: list[int], tmp_path: Path
) -> None:
    """Every query of QUERIES through the ``mariadb`` client: one batch (one process) against
    the czar and one against the oracle, run at the same time. The text of each query's output
    (tab-separated, with column names) must be the oracle's: rows sorted unless the query has
    ORDER BY, SUM/AVG values to 12 digits as in ``test_query_matches_oracle``."""
    ours = [_fill(sql, ids) for sql in QUERIES]
    theirs = [CHUNK_TOTALS.get(sql) or oracle_sql(_fill(sql, ids)) for sql in QUERIES]
    czar_text, oracle_text = _run_batches(
        [
            (cluster.config.frontend_port, "qsmaster", "", ours),
            (oracle.server.port, "root", "oracle-password", theirs),
        ],
        tmp_path,
    )
    got, expected = _split(czar_text), _split(oracle_text)
    assert sorted(got) == sorted(expected) == list(range(len(QUERIES)))
    wrong = []
    for i, (template, sql) in enumerate(zip(QUERIES, ours, strict=True)):
        if template in CHUNK_TOTALS:  # rows of (..., count); the oracle gives the total
            total = sum(int(line.split("\t")[-1]) for line in got[i][1:])
            if [str(total)] != expected[i][1:]:
                wrong.append(f"{sql}\n  total {total}, oracle {expected[i][1:]}")
            continue
        lines = got[i]
        if lines and lines[0] == (expected[i] or [""])[0] + "\tchunkId\tsubChunkId":
            lines = ["\t".join(line.split("\t")[:-2]) for line in lines]  # SELECT *
        if _cli_text(lines, sql) != _cli_text(expected[i], sql):
            wrong.append(f"{sql}\n  czar:   {got[i][:3]}\n  oracle: {expected[i][:3]}")
    assert not wrong, "\n".join(wrong)
