"""S3 object keys and file names exactly as AWS writes flow logs (spec 4), and their parsing.

Writers (the local-bucket and S3 sinks) build keys here; readers parse them back here to prune
by account, region, day, hour and file timestamp without opening objects. Both directions live in
one module so they cannot drift apart.

Layouts (spec 4, ``P`` = bucket root or ``subfolder/``)::

    default          P AWSLogs/<acct>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/
    per-hour         P AWSLogs/<acct>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/<HH>/
    Hive             P AWSLogs/aws-account-id=<acct>/aws-service=vpcflowlogs/aws-region=<region>/
                         year=<yyyy>/month=<mm>/day=<dd>/
    Hive + per-hour  ... day=<dd>/hour=<HH>/

File name: ``<acct>_vpcflowlogs_<region>_<fl-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz`` (``.log.parquet``
for Parquet): the timestamp is the start of the 5-minute period holding the records' *end* times.
Decisions where AWS is silent (documented in docs/delivery.md): the date folders derive from that
same period start (UTC); ``hash`` is the first 8 hex digits of the SHA-256 of the object's bytes,
so a retried upload of the same content replaces the object instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from vpcflow.core.errors import ConfigError

#: Files are published per 5-minute period of record end time (spec 4).
PERIOD_S = 300
#: A file is closed when it reaches 75 MB within a period (spec 4, 2023 docs).
MAX_OBJECT_BYTES = 75 * 1024 * 1024

TEXT_SUFFIX = ".log.gz"
PARQUET_SUFFIX = ".log.parquet"
SERVICE = "vpcflowlogs"
RESERVED_SUBFOLDER = "AWSLogs"


def period_start(end_s: int) -> int:
    """The start (epoch seconds) of the 5-minute period holding a record ending at ``end_s``."""
    return end_s - end_s % PERIOD_S


def content_hasher(salt: str = "") -> hashlib._Hash:
    """The hash behind ``content_hash``, to be fed an object's content piece by piece (a text
    object's lines as they are rendered); ``content_digest`` of it gives the name component."""
    h = hashlib.sha256()
    if salt:
        h.update(salt.encode() + b"\0")
    return h


def content_digest(hasher: hashlib._Hash) -> str:
    """The 8-hex-digit name component of what ``hasher`` (``content_hasher``) was fed."""
    return hasher.hexdigest()[:8]


def content_hash(data: bytes | bytearray, salt: str = "") -> str:
    """The 8-hex-digit name component derived from an object's content (idempotent retries): a
    Parquet object's bytes, a text object's uncompressed text (``dataplane/sinks/s3_common.py``).

    ``salt`` is the run identity when the runtime delivers: the same records of another run are
    another delivery, under another name (docs/delivery.md "Run identity").
    """
    h = content_hasher(salt)
    h.update(data)
    return content_digest(h)


def _utc(ts_s: int) -> datetime:
    return datetime.fromtimestamp(ts_s, tz=UTC)


def normalize_prefix(prefix: str) -> str:
    """``""`` or ``"sub/folder/"``: the optional subfolder with exactly one trailing slash.

    ``AWSLogs`` is reserved and cannot be the subfolder (spec 4).
    """
    p = prefix.strip("/")
    if not p:
        return ""
    if p.split("/", 1)[0] == RESERVED_SUBFOLDER:
        raise ConfigError(f"the subfolder {prefix!r} is reserved: AWSLogs cannot be the subfolder name (spec 4)")
    return p + "/"


def partition_prefix(
    prefix: str,
    account_id: str,
    region: str,
    ts_s: int,
    *,
    hive: bool = False,
    per_hour: bool = False,
) -> str:
    """The folder (ending in ``/``) where AWS puts a file whose period starts at ``ts_s``."""
    t = _utc(ts_s)
    p = normalize_prefix(prefix)
    if hive:
        key = (
            f"{p}AWSLogs/aws-account-id={account_id}/aws-service={SERVICE}/aws-region={region}/"
            f"year={t:%Y}/month={t:%m}/day={t:%d}/"
        )
        return key + (f"hour={t:%H}/" if per_hour else "")
    key = f"{p}AWSLogs/{account_id}/{SERVICE}/{region}/{t:%Y}/{t:%m}/{t:%d}/"
    return key + (f"{t:%H}/" if per_hour else "")


def account_prefix(prefix: str, account_id: str | None = None, region: str | None = None, *, hive: bool = False) -> str:
    """The listing prefix that narrows to an account (and region) in a layout, for pruning."""
    p = normalize_prefix(prefix) + "AWSLogs/"
    if account_id is None:
        return p
    if hive:
        p += f"aws-account-id={account_id}/aws-service={SERVICE}/"
        return p + (f"aws-region={region}/" if region else "")
    p += f"{account_id}/{SERVICE}/"
    return p + (f"{region}/" if region else "")


def file_name(
    account_id: str, region: str, flow_log_id: str, period_start_s: int, digest: str, *, parquet: bool = False
) -> str:
    """``123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz`` (spec 4)."""
    if period_start_s % PERIOD_S:
        raise ValueError(f"period start {period_start_s} is not on a 5-minute boundary")
    stamp = f"{_utc(period_start_s):%Y%m%dT%H%MZ}"
    suffix = PARQUET_SUFFIX if parquet else TEXT_SUFFIX
    return f"{account_id}_{SERVICE}_{region}_{flow_log_id}_{stamp}_{digest}{suffix}"


def object_key(
    prefix: str,
    account_id: str,
    region: str,
    flow_log_id: str,
    period_start_s: int,
    data: bytes | bytearray,
    *,
    hive: bool = False,
    per_hour: bool = False,
    parquet: bool = False,
    salt: str = "",
    digest: str | None = None,
) -> str:
    """The full key of one object: partition folder + file name, the hash taken from ``data`` (and
    ``salt``), or ``digest`` when given (``content_digest`` of a text object's text)."""
    folder = partition_prefix(prefix, account_id, region, period_start_s, hive=hive, per_hour=per_hour)
    return folder + file_name(account_id, region, flow_log_id, period_start_s,
                              digest if digest is not None else content_hash(data, salt), parquet=parquet)


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """Everything a key says about its object (for pruning and for readers)."""

    key: str
    prefix: str  # "" or "sub/folder/"
    account_id: str
    region: str
    year: int
    month: int
    day: int
    hour: int | None  # None unless the per-hour layout
    hive: bool
    flow_log_id: str
    period_start_s: int  # the file-name timestamp
    digest: str
    parquet: bool

    @property
    def per_hour(self) -> bool:
        return self.hour is not None

    @property
    def day_start_s(self) -> int:
        return int(datetime(self.year, self.month, self.day, tzinfo=UTC).timestamp())


_NAME_RE = re.compile(
    r"^(?P<acct>[^_/]+)_vpcflowlogs_(?P<region>[a-z0-9-]+)_(?P<fl>fl-[0-9a-zA-Z]+)_"
    r"(?P<stamp>\d{8}T\d{4}Z)_(?P<hash>[0-9a-f]+)(?P<suffix>\.log\.gz|\.log\.parquet)$"
)
_DEFAULT_RE = re.compile(
    r"^(?P<prefix>(?:.*/)?)AWSLogs/(?P<acct>[^/=]+)/vpcflowlogs/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?:(?P<h>\d{2})/)?(?P<name>[^/]+)$"
)
_HIVE_RE = re.compile(
    r"^(?P<prefix>(?:.*/)?)AWSLogs/aws-account-id=(?P<acct>[^/]+)/aws-service=vpcflowlogs/"
    r"aws-region=(?P<region>[a-z0-9-]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/"
    r"(?:hour=(?P<h>\d{2})/)?(?P<name>[^/]+)$"
)


def parse_file_name(name: str) -> tuple[str, str, str, int, str, bool] | None:
    """``(account, region, flow_log_id, period_start_s, hash, parquet)`` of a flow-log file name, or None."""
    m = _NAME_RE.match(name)
    if m is None:
        return None
    stamp = datetime.strptime(m["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    return m["acct"], m["region"], m["fl"], int(stamp.timestamp()), m["hash"], m["suffix"] == PARQUET_SUFFIX


def parse_key(key: str) -> ParsedKey | None:
    """Parse a key in any of the four layouts; None when it is not a flow-log object key.

    Folder and file name must agree (account, region, date and hour), as they do in AWS's keys.
    """
    hive = False
    m = _DEFAULT_RE.match(key)
    if m is None:
        m = _HIVE_RE.match(key)
        hive = True
    if m is None:
        return None
    parsed = parse_file_name(m["name"])
    if parsed is None:
        return None
    acct, region, fl, ts, digest, parquet = parsed
    if acct != m["acct"] or region != m["region"]:
        return None
    t = _utc(ts)
    year, month, day = int(m["y"]), int(m["m"]), int(m["d"])
    hour = int(m["h"]) if m["h"] is not None else None
    if (t.year, t.month, t.day) != (year, month, day) or (hour is not None and hour != t.hour):
        return None
    return ParsedKey(
        key=key,
        prefix=m["prefix"],
        account_id=acct,
        region=region,
        year=year,
        month=month,
        day=day,
        hour=hour,
        hive=hive,
        flow_log_id=fl,
        period_start_s=ts,
        digest=digest,
        parquet=parquet,
    )


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """Pruning by what keys say: a key passes when every given criterion can match its file.

    ``start_s``/``end_s`` bound record END times (half-open ``[start_s, end_s)``); a file holds
    records whose end lies in ``[period_start, period_start + 300)``.
    """

    account_ids: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    flow_log_ids: frozenset[str] | None = None
    start_s: int | None = None
    end_s: int | None = None

    def day_may_match(self, day_start_s: int) -> bool:
        """Whether any record of a day folder could fall in the time range (prunes whole folders)."""
        return self._span_may_match(day_start_s, day_start_s + 86400)

    def _span_may_match(self, lo: int, hi: int) -> bool:
        if self.start_s is not None and hi <= self.start_s:
            return False
        return not (self.end_s is not None and lo >= self.end_s)

    def matches(self, pk: ParsedKey) -> bool:
        if self.account_ids is not None and pk.account_id not in self.account_ids:
            return False
        if self.regions is not None and pk.region not in self.regions:
            return False
        if self.flow_log_ids is not None and pk.flow_log_id not in self.flow_log_ids:
            return False
        return self._span_may_match(pk.period_start_s, pk.period_start_s + PERIOD_S)
