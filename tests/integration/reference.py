"""An independent count of a book's words, written here from the rule the
README states, to check juggle against (nothing here calls juggle's code):

- charset: the HTTP Content-Type charset; else the book's own
  "Character set encoding:" line in its first 8 KiB; else UTF-16 by its
  byte order mark, UTF-8 when the whole body is valid UTF-8 (a BOM
  skipped), else Windows-1252. Latin-1 and ASCII labels are read as
  Windows-1252, their superset (WHATWG).
- text: after the last Project Gutenberg start marker (or the end of the
  old "small print"), before the first end marker (a footer line such as
  "End of the Project Gutenberg EBook of ..." or "*** END OF ...").
- words: maximal runs of letters and digits (Unicode categories L*, N*),
  combining marks (M*) kept inside a word, an apostrophe (' or U+2019)
  between two such runs kept as ', case-folded, then NFC.
"""
import codecs
import re
import sys
import unicodedata
from collections import Counter

def cp1252_table():
    """WHATWG windows-1252: Python's codec, with its five holes mapped to
    the C1 controls of the same value."""
    table = []
    for b in range(256):
        try:
            table.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            table.append(chr(b))
    return table


CP1252 = cp1252_table()
LATIN_LABELS = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                "iso latin-1", "iso-latin-1", "windows-1252", "cp1252", "us-ascii", "ascii",
                "iso-646-us", "iso646-us", "x-cp1252"}


def label_codec(label):
    """The decoder a charset label names, or None when Python knows none."""
    name = re.sub(r"\s*\(.*\)\s*$", "", label).strip().lower()
    if name in LATIN_LABELS:
        return "windows-1252"
    if name in ("utf-8", "utf8"):
        return "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decide_charset(raw, http_charset):
    if http_charset and label_codec(http_charset):
        return label_codec(http_charset), "http"
    m = re.search(rb"^Character set encoding:[ \t]*([^\r\n]*?)[ \t]*\r?$", raw[:8192], re.M | re.I)
    if m and label_codec(m.group(1).decode("latin-1")):
        return label_codec(m.group(1).decode("latin-1")), "book"
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return ("utf-16le" if raw[0] == 0xFF else "utf-16be"), "detected"
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    try:
        body.decode("utf-8")
        return "utf-8", "detected"
    except UnicodeDecodeError:
        return "windows-1252", "detected"


def decode(raw, codec):
    if codec == "windows-1252":
        return "".join(CP1252[b] for b in raw)
    if codec == "utf-8" and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if codec in ("utf-16le", "utf-16be"):
        raw = raw[2:]
    return raw.decode(codec, "replace")


START = re.compile(r"^[ \t]*(?:\*\*\*[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG"
                   r"|\*\*\*[ \t]*START OF THE COPYRIGHTED PROJECT GUTENBERG"
                   r"|\*END\*?[ \t]*THE SMALL PRINT)", re.I | re.A)
END = re.compile(r"^[ \t]*(?:\*\*\*[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG"
                 r"|\*\*\*[ \t]*END OF THE COPYRIGHTED PROJECT GUTENBERG"
                 r"|End of (?:the |this )?Project Gutenberg)", re.I | re.A)


def strip(text):
    lines = text.split("\n")
    begin, end = 0, len(lines)
    for i, line in enumerate(lines):
        if END.match(line):
            end = i
            break
        if START.match(line):
            begin = i + 1
    return "\n".join(lines[begin:end])


def char_class(pred):
    """A regex class of every code point whose category passes `pred`."""
    ranges, start = [], None
    for cp in range(sys.maxunicode + 2):
        ok = cp <= sys.maxunicode and pred(unicodedata.category(chr(cp)))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            ranges.append((start, cp - 1))
            start = None
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
                   for a, b in ranges)


WORD_CHAR = char_class(lambda c: c[0] in "LN")
MARK = char_class(lambda c: c[0] == "M")
RUN = f"[{WORD_CHAR}][{WORD_CHAR}{MARK}]*"
WORD = re.compile(f"{RUN}(?:'{RUN})*")
SPACE = re.compile(r"[ \t\n\r\v\f]+")
UPPER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


def count(raw, http_charset=None, mode="words", html=False):
    """Words, distinct, top 10 and the charset decision of one book."""
    codec, source = decide_charset(raw, http_charset)
    text = decode(raw, codec)
    if not html:
        text = strip(text)
    if mode == "whitespace":
        words = [w.encode("utf-8").translate(UPPER).decode("utf-8") for w in SPACE.split(text) if w]
    else:
        words = [unicodedata.normalize("NFC", w.casefold())
                 for w in WORD.findall(text.replace("\u2019", "'"))]
    c = Counter(words)
    top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0].encode("utf-8")))[:10]
    return {"words": sum(c.values()), "distinct": len(c), "top": [list(t) for t in top],
            "charset": codec, "charset_from": source, "table": c}
