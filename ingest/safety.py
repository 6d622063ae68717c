"""Checks that run before any parser touches a file: size, content vs. extension, ZIP bombs,
upload file names, and a time limit per parse.

Every refusal is a :class:`~retrieval.errors.ReaderError` naming the file with a Japanese reason,
so the pipeline reports it and goes on with the next file.

    >>> check_file(Path("report.pdf"), LimitsSettings())  # doctest: +SKIP
    >>> sanitize_filename("../../etc/passwd.txt")
    'passwd.txt'
    >>> doc = parse_with_timeout(read_pdf, Path("report.pdf"), 120, "report.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.parse_worker import parse_with_timeout
from ingest.readers.file_common import describe_exception, read_head, sniff
from retrieval.errors import ReaderError

if TYPE_CHECKING:
    from retrieval.settings import LimitsSettings

__all__ = [
    "check_file",
    "check_zip",
    "sanitize_filename",
    "parse_with_timeout",
]

MB = 1024 * 1024
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".xml"})
# A small entry may compress very well (a repetitive styles.xml); only big ones count as bombs.
_RATIO_MIN_BYTES = 1 * MB
# ZIP parts the DOCX readers decompress: their real size is measured, not taken from the header.
_PARSED_PARTS = (".xml", ".rels")
_TEXT_ENCODINGS = ("utf-8", "cp932", "euc_jp")
_DECLARED_CHARSET = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


def check_file(path: Path, limits: LimitsSettings) -> None:
    """Refuse ``path`` (ReaderError) if it is missing, empty, too large, not what its extension
    says, or a ZIP bomb. Reads only the first bytes and the ZIP directory; parses nothing."""
    path = Path(path)
    ext = path.suffix.lower()
    head = read_head(path, limits.max_file_mb * MB,
                     "ファイルを分割するか、上限（GYOSEI_LIMITS__MAX_FILE_MB）を見直してください。")
    found = sniff(head)
    if ext == ".pdf":
        _expect(path, found.kind in ("pdf",), "PDF", found.description)
    elif ext == ".docx":
        # OLE2 under .docx: a password-protected Word file or an old .doc; the reader says which.
        _expect(path, found.kind in ("zip", "ole2"), "Word文書(.docx)", found.description)
        if found.kind == "zip":
            check_zip(path, limits, required="word/document.xml")
    elif ext == ".doc":
        _expect(path, found.kind in ("ole2", "rtf", "zip"), "Word文書(.doc)", found.description)
        if found.kind == "zip":
            check_zip(path, limits, required="word/document.xml")
    elif ext in TEXT_EXTENSIONS:
        _expect(path, found.kind == "text", "テキスト", found.description)
        if not _decodes(head, declared=ext in (".html", ".htm", ".xml")):
            raise ReaderError(
                path,
                "テキストとして読めません（UTF-8・Shift_JIS(CP932)・EUC-JPのいずれの文字コードでもありません）。"
                "ファイルの種類と文字コードを確認してください。",
            )


def _expect(path: Path, ok: bool, label: str, description: str) -> None:
    if not ok:
        raise ReaderError(
            path,
            f"拡張子は{path.suffix}ですが、中身は{label}ではなく{description}のようです。ファイルの種類を確認してください。",
        )


def _decodes(head: bytes, declared: bool) -> bool:
    """True when the first bytes decode as Japanese-capable text (a cut multibyte char at the
    end of the sample is allowed). HTML/XML may declare another charset of their own."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        candidates = _TEXT_ENCODINGS
        match = _DECLARED_CHARSET.search(head) if declared else None
        if match:
            name = match.group(1).decode("ascii", "ignore")
            try:
                candidates = (codecs.lookup(name).name, *candidates)
            except LookupError:
                pass
    for name in candidates:
        try:
            codecs.getincrementaldecoder(name)("strict").decode(head, final=False)
            return True
        except UnicodeDecodeError:
            continue
    return False


def check_zip(path: Path, limits: LimitsSettings, required: str | None = None) -> None:
    """Refuse a ZIP container (DOCX) that is broken, lacks ``required``, or would expand beyond
    the limits: entry count, total uncompressed size, compression ratio, overlapping entries.

    The sizes come from the central directory; the parts the readers parse (XML) are then
    decompressed into nothing, counting bytes, so a directory that lies about sizes is caught too.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_directory(path, infos, limits)
            if required is not None and required not in {i.filename for i in infos}:
                return  # not a Word document: the reader names what the ZIP really holds
            budget = int(limits.max_unzipped_mb * MB)
            for info in infos:
                if info.filename.endswith(_PARSED_PARTS):
                    budget -= _measure(path, zf, info, budget, limits)
    except zipfile.BadZipFile:
        raise ReaderError(path, "ZIP形式として開けません。ファイルが壊れているか、途中で切れています。") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        # Encrypted entries, unsupported compression methods, ZIP64 oddities.
        raise ReaderError(path, f"ZIPの中身を確認できません（{type(exc).__name__}）。") from None
    except OSError as exc:  # zlib.error is not an OSError; see _measure
        raise ReaderError(path, f"ZIPを読み込めません（{exc.strerror or exc}）。") from None


def _check_directory(path: Path, infos: list[zipfile.ZipInfo], limits: LimitsSettings) -> None:
    if len(infos) > limits.max_zip_entries:
        raise ReaderError(
            path, f"ZIP内のファイル数が多すぎます（{len(infos)}個、上限 {limits.max_zip_entries}個）。ZIP爆弾の可能性があるため読み込みません。"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_unzipped_mb * MB:
        raise ReaderError(
            path,
            f"展開後のサイズが大きすぎます（{_mb(total)}、上限 {limits.max_unzipped_mb:g} MB）。ZIP爆弾の可能性があるため読み込みません。",
        )
    for info in infos:
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ReaderError(
                path,
                f"ZIP内の {info.filename} の圧縮率が異常です（{ratio:.0f}倍、上限 {limits.max_zip_ratio:g}倍）。"
                "ZIP爆弾の可能性があるため読み込みません。",
            )
    # Entries sharing compressed bytes (the "overlapping files" bomb) expand one payload many times.
    spans = sorted((i.header_offset, i.header_offset + 30 + i.compress_size) for i in infos)
    for (_, prev_end), (start, _) in zip(spans, spans[1:]):
        if start < prev_end:
            raise ReaderError(path, "ZIPの構造が不正です（エントリが重なっています）。ZIP爆弾の可能性があるため読み込みません。")


def _measure(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, limits: LimitsSettings) -> int:
    """Decompress one entry without keeping it; its real size (refused beyond its declared size
    or the remaining budget)."""
    import zlib

    allowed = min(info.file_size, budget)
    seen = 0
    try:
        with zf.open(info) as fh:
            while block := fh.read(1 << 20):
                seen += len(block)
                if seen > allowed:
                    raise ReaderError(
                        path,
                        f"ZIP内の {info.filename} が申告より大きく展開されます（{_mb(seen)}超、"
                        f"上限 {limits.max_unzipped_mb:g} MB）。ZIP爆弾の可能性があるため読み込みません。",
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        # zipfile stops at the declared size, so a directory that understates a size shows up
        # here as a CRC mismatch rather than as an oversized entry.
        raise ReaderError(
            path, f"ZIP内の {info.filename} が壊れています（{describe_exception(exc)}）。ファイルを保存し直してください。"
        ) from None
    return seen


# -- upload file names ---------------------------------------------------------------------
_RESERVED = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.I)
_FALLBACK_STEM = "untitled"
# Control, format (bidi overrides, zero-width), line/paragraph separators, surrogates, private use.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_MAX_NAME_BYTES = 240  # below the 255-byte limit of ext4/NTFS, in UTF-8


def sanitize_filename(name: str, max_chars: int = 120) -> str:
    """A safe file name for an uploaded file: its last path component only, NFC, without control
    or format characters, reserved characters replaced, no leading dot, length-limited (the
    extension kept), never empty. Japanese is kept as it is.

    >>> sanitize_filename("..\\\\..\\\\令和６年度　予算.PDF")
    '令和６年度 予算.PDF'
    """
    name = unicodedata.normalize("NFC", str(name))
    # Drop control/format characters (incl. bidi overrides that disguise extensions) first, so
    # that they cannot hide a separator; then keep only the last path component.
    name = name.replace("\t", " ").replace("\u3000", " ")
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = re.split(r"[/\\]", name)[-1]
    name = " ".join(_RESERVED.sub("_", name).split())
    stem, dot, ext = name.rpartition(".")
    if not (dot and 1 <= len(ext) <= 10 and ext.isascii() and ext.isalnum()):
        stem, ext = name, ""
    # No hidden files, no "..", no trailing dots (Windows drops them).
    stem = stem.strip(". ") or _FALLBACK_STEM
    if _WINDOWS_DEVICES.match(stem):
        stem = f"_{stem}"
    suffix = f".{ext}" if ext else ""
    stem = stem[: max(1, max_chars - len(suffix))]
    while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES and len(stem) > 1:
        stem = stem[:-1]
    return (stem.rstrip(". ") or _FALLBACK_STEM) + suffix
