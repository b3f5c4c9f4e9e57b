"""Reading and writing the tables users export: CSV (UTF-8, UTF-8-SIG, GBK/GB18030), JSONL, XLSX, Parquet (a file or
a dataset directory).

Reading never drops a row silently: a CSV line that cannot be parsed or decoded
comes back as a `BadRow` with its line number and the reason.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import numbers
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from charset_normalizer import from_bytes

# pandas (~0.4 s) is imported only by the readers and helpers that need it (XLSX, Parquet, time cells): a fast-mode
# run over a CSV or JSONL file would otherwise pay for it at start-up.

csv.field_size_limit(16 * 1024 * 1024)
SUPPORTED = (".csv", ".jsonl", ".json", ".xlsx", ".parquet")


class InputError(ValueError):
    """The file as a whole cannot be used (missing, unknown format, missing column)."""


@dataclass
class BadRow:
    row: int  # 1-based data row number (header excluded)
    reason: str
    raw: str = ""


def detect_encoding(sample: bytes) -> str:
    """One JSONL line's encoding: UTF-8 (with or without BOM) when it decodes, else GB18030 (a superset of
    GBK/GB2312). A CSV file's is decided from the whole file (`file_encoding`)."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": read line by line it would be garbage
        raise InputError("the file is UTF-16 (Excel's \"Unicode text\"); save it as \"CSV UTF-8\" and score that")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(sample) - 3:  # cut in the middle of a character
            return "utf-8"
    try:
        sample.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        best = from_bytes(sample).best()
        return best.encoding if best else "utf-8"


def file_encoding(path: Path) -> str:
    """A CSV file's encoding, from the whole file: its BOM's, else UTF-8 or GB18030 (a superset of GBK/GB2312),
    whichever more of its non-ASCII lines decode in. A guess from the first megabyte fails GBK exports whose
    first non-ASCII byte comes late, and lets one stray bad byte sequence decide for the whole file; decided here,
    such a sequence costs its own row only (see `_parse`). When neither reads most of those lines, charset_normalizer
    guesses from the start of the file."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig"
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": read line by line it would be garbage
            raise InputError(f"{path}: the file is UTF-16 (Excel's \"Unicode text\"); save it as \"CSV UTF-8\" and score that")
        f.seek(0)
        lines = decoded = gbk = 0
        for line in f:
            if line.isascii():
                continue
            lines += 1
            decoded += _decodes(line, "utf-8")
            gbk += _decodes(line, "gb18030")
    if 2 * max(decoded, gbk) >= lines:
        return "gb18030" if gbk > decoded else "utf-8"
    with path.open("rb") as f:
        best = from_bytes(f.read(1 << 20)).best()
    return best.encoding if best else "utf-8"


def _decodes(line: bytes, enc: str) -> bool:
    try:
        line.decode(enc)
        return True
    except UnicodeDecodeError:
        return False


# A quoted field may span lines (Excel exports hold reviews with line breaks). One that never closes must not
# swallow the rows after it: a record ends at the latest after MAX_RECORD_LINES lines, or before a line that is a
# whole row by itself; only its opening line is then bad, and every line after it is read again as rows.
MAX_RECORD_LINES = 200


DELIMITERS = (",", "\t", ";", "|")


def _delimiter(header: str) -> str:
    """The header line's most frequent separator: comma, tab (exports saved as .csv but tab-separated), semicolon
    (Excel in many European locales) or bar; comma when none occurs."""
    counts = [header.count(d) for d in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))] if max(counts) else ","


def _parse(chunk: bytes, enc: str, delimiter: str = ","):
    """Decode and split one CSV record; returns fields or an error string."""
    if chunk.count(b'"') % 2:
        return "unbalanced quote (the field is never closed)"
    try:
        text = chunk.decode(enc)
    except UnicodeDecodeError as e:
        return f"cannot decode as {enc}: {e.reason} at byte {e.start}"
    try:
        rows = list(csv.reader(io.StringIO(text.rstrip("\r")), delimiter=delimiter))
    except csv.Error as e:
        return f"malformed CSV line: {e}"
    if len(rows) != 1:
        return "malformed CSV line"
    return rows[0]


def _whole_row(line: bytes, enc: str, delimiter: str, width: int) -> bool:
    """Whether `line` alone is a row of `width` fields: where a quoted field runs on, this line starts a new row.
    Not in a one-column file, where every line is one field."""
    if width < 2:
        return False
    fields = _parse(line, enc, delimiter)
    return isinstance(fields, list) and len(fields) == width


def _byte_lines(path: Path) -> Iterator[bytes]:
    """The file's lines without their line ends, streamed: memory stays flat for any file size."""
    with path.open("rb") as f:
        for line in f:
            yield line.rstrip(b"\r\n")


def _iter_csv(path: Path) -> Iterator[tuple[int, dict | BadRow]]:
    enc = file_encoding(path)
    source = _byte_lines(path)
    pending: deque[bytes] = deque()  # lines read ahead, given back when a record is cut short

    def next_line():
        return pending.popleft() if pending else next(source, None)

    header: list[str] | None = None
    delimiter = None
    row_no = 0
    while (first := next_line()) is not None:
        if not first.strip():
            continue
        if delimiter is None:
            delimiter = _delimiter(first.decode(enc, "replace"))
        # a record ends where its quotes balance; see MAX_RECORD_LINES for where it is cut short
        taken, quotes = [first], first.count(b'"')
        while quotes % 2 and len(taken) <= MAX_RECORD_LINES:
            nxt = next_line()
            if nxt is None:
                break
            if header is not None and _whole_row(nxt, enc, delimiter, len(header)):
                pending.appendleft(nxt)
                break
            taken.append(nxt)
            quotes += nxt.count(b'"')
        chunk = b"\n".join(taken)
        fields = _parse(chunk, enc, delimiter)
        if len(taken) > 1 and not (isinstance(fields, list) and (header is None or len(fields) == len(header))):
            pending.extendleft(reversed(taken[1:]))  # the multi-line reading failed: blame only the opening line
            chunk = first
            fields = _parse(chunk, enc, delimiter)
        if header is None:
            if isinstance(fields, str):
                raise InputError(f"{path}: cannot read the header line: {fields}")
            header = [h.strip() for h in fields]
            continue
        row_no += 1
        if isinstance(fields, str):
            yield row_no, BadRow(row_no, fields, chunk.decode(enc, "replace"))
        elif len(fields) != len(header):
            yield row_no, BadRow(row_no, f"expected {len(header)} fields, found {len(fields)}", chunk.decode(enc, "replace"))
        else:
            yield row_no, dict(zip(header, fields))


def _iter_jsonl(path: Path) -> Iterator[tuple[int, dict | BadRow]]:
    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    with stream:
        row_no = 0
        for raw in stream:
            if not raw.strip():
                continue
            row_no += 1
            try:
                obj = json.loads(raw.decode(detect_encoding(raw)))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                yield row_no, BadRow(row_no, f"invalid JSON: {e}", raw.decode("utf-8", "replace")[:500])
                continue
            if not isinstance(obj, dict):
                yield row_no, BadRow(row_no, "a JSONL row must be an object", str(obj)[:500])
                continue
            yield row_no, obj


def _records(df, first: int) -> Iterator[tuple[int, dict]]:
    """A frame's rows as dicts numbered from `first`, with missing values (NaN, NaT) as None."""
    import pandas as pd  # see the top of the module

    df.columns = [str(c).strip() for c in df.columns]
    for i, rec in enumerate(df.to_dict("records"), start=first):
        yield i, {k: (None if (not isinstance(v, (list, dict)) and pd.isna(v)) else v) for k, v in rec.items()}


def _iter_frame(path: Path, reader) -> Iterator[tuple[int, dict | BadRow]]:
    return _records(reader(path), 1)


PARQUET_BATCH = 10_000


def _iter_parquet(paths: list[Path]) -> Iterator[tuple[int, dict | BadRow]]:
    """The rows of Parquet files, one after the other, read PARQUET_BATCH rows at a time: memory stays flat for any
    file size (the values are those of pandas.read_parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = 1
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH):
            yield from _records(pa.Table.from_batches([batch]).to_pandas(), first)
            first += batch.num_rows


def dataset_parts(path: Path) -> list[Path]:
    """The Parquet files of a dataset directory in order (`voc score --cluster` writes part-000000.parquet, ...);
    files whose names start with _ or . are not data, as for pyarrow and Spark."""
    return sorted(p for p in path.rglob("*.parquet") if p.is_file()
                  and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts))


def _excel_sheet(path: Path, need: tuple[str, ...]):
    """The workbook's first sheet that has every `need` column: exports often open with a notes or summary
    sheet. With one sheet, that sheet (a missing column is then the caller's error); with several and none
    matching, an error that lists each sheet's columns."""
    import pandas as pd  # see the top of the module

    sheets = pd.read_excel(path, sheet_name=None, dtype=object)
    if not sheets:
        raise InputError(f"{path}: the workbook has no sheet")
    columns = {name: [str(c).strip() for c in df.columns] for name, df in sheets.items()}
    for name, df in sheets.items():
        if set(need) <= set(columns[name]):
            return df
    if len(sheets) == 1:
        return next(iter(sheets.values()))
    listing = "; ".join(f"sheet {name!r}: {', '.join(cols) or '(empty)'}" for name, cols in columns.items())
    raise InputError(f"{path}: no sheet has the column(s) {', '.join(map(repr, need))}; {listing} "
                     "(name the right one with the --...-col options)")


def iter_rows(path: str | Path, need: tuple[str, ...] = ()) -> Iterator[tuple[int, dict | BadRow]]:
    """Yield (row number, row dict or BadRow) for every data row of a supported file. `need`: the columns
    the caller will read, which pick the sheet of an Excel workbook."""
    path = Path(path)
    if str(path) != "-" and not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():  # a Parquet dataset
        return _iter_parquet(dataset_parts(path))
    suffix = ".jsonl" if str(path) == "-" else path.suffix.lower()
    if suffix == ".csv":
        return _iter_csv(path)
    if suffix in (".jsonl", ".json"):
        return _iter_jsonl(path)
    if suffix == ".xlsx":
        return _iter_frame(path, lambda p: _excel_sheet(p, tuple(c for c in need if c)))
    if suffix == ".parquet":
        return _iter_parquet([path])
    raise InputError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED)}")


def read_table(path: str | Path, need: tuple[str, ...] = ()) -> tuple[list[tuple[int, dict]], list[BadRow]]:
    good, bad = [], []
    for row_no, row in iter_rows(path, need):
        (bad if isinstance(row, BadRow) else good).append(row if isinstance(row, BadRow) else (row_no, row))
    return good, bad


def missing_column(path, column: str, columns, option: str) -> InputError:
    """The error for a column the file lacks: it lists the file's columns and the option that names another."""
    return InputError(f"{path}: no column {column!r}; the columns are: {', '.join(map(str, columns))} "
                      f"(name the right one with {option})")


def require_column(rows: list[tuple[int, dict]], column: str, path, option: str) -> None:
    if rows and column not in rows[0][1]:
        raise missing_column(path, column, rows[0][1], option)


def parse_when(value):
    """A time cell as a pandas Timestamp, or None. Numbers are Unix times (seconds; milliseconds from 1e11 on), as
    JSON exports write them: pandas alone reads 1698765432 as nanoseconds, i.e. a day in January 1970."""
    import pandas as pd  # see the top of the module

    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        if isinstance(value, numbers.Real) and 19000101 <= value <= 21001231 and float(value).is_integer():
            t = pd.Timestamp(dt.datetime.strptime(str(int(value)), "%Y%m%d"))  # 20261101 stored as a number
        elif isinstance(value, numbers.Real):
            t = pd.Timestamp(value, unit="ms" if abs(value) >= 1e11 else "s", tz="UTC")
        else:
            t = pd.Timestamp(value)
        return None if pd.isna(t) else t
    except (ValueError, TypeError, OverflowError):
        return None


@dataclass
class MessageGroup:
    """The messages of one conversation, grouped from a table with one row per message (`group_messages`)."""
    id: str
    turns: list  # nlp.chat.Turn, in time order where every message has a time, else in file order
    rows: list[int]  # the input row numbers of its messages, in the order of `turns`


def group_messages(rows, conv_col: str, text_col: str, role_col: str, time_col: str | None = None,
                   roles: dict[str, str] | None = None) -> tuple[list[MessageGroup], list[BadRow]]:
    """Rows of a message table (`iter_rows`' (row number, row) pairs) → conversations, in order of first appearance.

    A conversation's messages are sorted by `time_col` when every one of them has a readable time (a stable sort:
    messages of the same second keep the file's order), else kept in file order. The role column holds roles
    (customer, 客服, helpdesk, ...) or speaker names (tb_8823, 小美): names that say no role are mapped by `roles` or
    inferred per conversation (nlp.chat.infer_roles). A row without a conversation id or text is a BadRow, as is
    a row the reader could not parse; each costs its own row only."""
    from nlp.chat import Turn, infer_roles, role_of, system_as_agent

    groups: dict[str, list[tuple[int, dict]]] = {}
    bad: list[BadRow] = []
    checked = False
    for row_no, row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        if not checked:
            for col, option in ((conv_col, "--conv-col"), (text_col, "--text-col"), (role_col, "--role-col"),
                                (time_col, "--time-col")):
                if col and col not in row:
                    raise missing_column("the message table", col, row, option)
            checked = True
        conv, text = row.get(conv_col), row.get(text_col)
        if conv is None or str(conv).strip() == "":
            bad.append(BadRow(row_no, f"no conversation id in column {conv_col!r}", str(row)[:500]))
        elif not isinstance(text, (str, numbers.Real)) or isinstance(text, bool) or str(text).strip() == "":
            bad.append(BadRow(row_no, f"no message text in column {text_col!r}", str(row)[:500]))
        else:
            key = str(int(conv)) if isinstance(conv, float) and conv.is_integer() else str(conv).strip()
            groups.setdefault(key, []).append((row_no, row))
    out = []
    for key, msgs in groups.items():
        if time_col:
            times = [parse_when(r.get(time_col)) for _, r in msgs]
            if all(t is not None for t in times):
                try:
                    order = sorted(range(len(msgs)), key=lambda k: times[k])
                    msgs = [msgs[k] for k in order]
                except TypeError:  # times with and without an offset cannot be compared: keep the file's order
                    pass
        turns, unknown = [], set()
        for _, r in msgs:
            who = "" if r.get(role_col) is None else str(r.get(role_col)).strip()
            role = role_of(who, roles) if who else None
            if role is None:
                unknown.add(who)
            text = r[text_col]
            text = (str(int(text)) if float(text).is_integer() else str(text)) if isinstance(text, numbers.Real) else text
            when = r.get(time_col) if time_col else None
            turns.append(Turn(role or "customer", text, who, None if when in (None, "") else str(when)))
        if unknown:
            infer_roles(turns, unknown)
        out.append(MessageGroup(key, system_as_agent(turns), [n for n, _ in msgs]))
    return out, bad
