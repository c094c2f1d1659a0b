#!/usr/bin/env python3
"""Strict checker for the Prometheus text exposition format 0.0.4.

promtool (Debian's prometheus package, ~100 MB with its web assets) is not a test
dependency, so this checks what `promtool check metrics` checks on our output, and more
strictly where the format leaves room:

  - the text is UTF-8 and every line ends with a line feed;
  - `# HELP name text` and `# TYPE name type` at most once per family, before its samples,
    with a known type; every family has both (promtool's lint: "no help text");
  - sample lines: valid metric name, `{label="value",...}` with valid label names, no
    duplicate label names, values escaped only as \\\\, \\" and \\n, a float value, an
    optional integer timestamp;
  - each sample belongs to a declared family (histogram: _bucket, _sum, _count) and a
    family's samples are contiguous; no series appears twice;
  - counters end in _total and are not negative; names are snake_case (promtool's lint);
  - histograms: per label set, `le` values parse, increase strictly, end with +Inf,
    bucket counts are cumulative (non-decreasing), _count equals the +Inf bucket and
    _sum and _count are present.

Usage: promcheck.py FILE        (exit 0 and "ok" when valid; 1 and the problems otherwise)
       promcheck.py --self-test (proves each rule rejects what it should)
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
SNAKE = re.compile(r"[a-z_:][a-z0-9_:]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Problem(Exception):
    pass


def parse_float(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise Problem(f"not a number: {text!r}")
    return float(text)


def parse_labels(text, pos, lineno):
    """Parses `{...}` starting at text[pos] == '{'. Returns (labels, position after '}')."""
    labels = {}
    pos += 1
    if text[pos:pos + 1] == "}":
        return labels, pos + 1
    while True:
        m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", text[pos:])
        if not m:
            raise Problem(f"line {lineno}: bad label name at column {pos + 1}")
        name = m.group(0)
        if name.startswith("__"):
            raise Problem(f"line {lineno}: reserved label name {name}")
        pos += len(name)
        if text[pos:pos + 2] != '="':
            raise Problem(f"line {lineno}: expected =\" after label {name}")
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                raise Problem(f"line {lineno}: unterminated value of label {name}")
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Problem(f"line {lineno}: invalid escape \\{nxt} in label {name}")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                pos += 2
                continue
            if c == '"':
                pos += 1
                break
            value.append(c)
            pos += 1
        if name in labels:
            raise Problem(f"line {lineno}: duplicate label {name}")
        labels[name] = "".join(value)
        if text[pos:pos + 1] == ",":
            pos += 1
            if text[pos:pos + 1] == "}":  # trailing comma is allowed by the format
                return labels, pos + 1
            continue
        if text[pos:pos + 1] == "}":
            return labels, pos + 1
        raise Problem(f"line {lineno}: expected , or }} after label {name}")


def family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and families.get(base, {}).get("type") in ("histogram", "summary"):
            return base
    return None


def check(text):
    problems = []
    if text and not text.endswith("\n"):
        problems.append("the text does not end with a line feed")
    families = {}  # name -> {"help", "type", "samples": [(name, labels, value)]}
    order = []  # family names in the order their samples appeared
    seen_series = set()
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    name = parts[2]
                    if not NAME.match(name):
                        raise Problem(f"line {lineno}: bad metric name {name!r}")
                    fam = families.setdefault(name, {"samples": []})
                    key = parts[1].lower()
                    if key in fam:
                        raise Problem(f"line {lineno}: second {parts[1]} for {name}")
                    if fam["samples"]:
                        raise Problem(f"line {lineno}: {parts[1]} for {name} after its samples")
                    if key == "type":
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise Problem(f"line {lineno}: bad type for {name}")
                        fam["type"] = parts[3]
                    else:
                        help_text = parts[3] if len(parts) == 4 else ""
                        if re.search(r"\\[^\\n]", help_text.replace("\\\\", "")):
                            raise Problem(f"line {lineno}: invalid escape in HELP of {name}")
                        fam["help"] = help_text
                continue
            if line == "":
                raise Problem(f"line {lineno}: empty line")
            m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            if not m:
                raise Problem(f"line {lineno}: bad sample line {line!r}")
            name = m.group(0)
            pos = len(name)
            labels = {}
            if line[pos:pos + 1] == "{":
                labels, pos = parse_labels(line, pos, lineno)
            rest = line[pos:]
            if not rest.startswith(" "):
                raise Problem(f"line {lineno}: expected a space before the value")
            fields = rest[1:].split(" ")
            if len(fields) not in (1, 2):
                raise Problem(f"line {lineno}: expected a value and an optional timestamp")
            value = parse_float(fields[0])
            if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
                raise Problem(f"line {lineno}: bad timestamp {fields[1]!r}")
            fam_name = family_of(name, families)
            if fam_name is None:
                raise Problem(f"line {lineno}: sample {name} has no HELP/TYPE family")
            if fam_name != current:
                if fam_name in order:
                    raise Problem(f"line {lineno}: samples of {fam_name} are not contiguous")
                order.append(fam_name)
                current = fam_name
            series = (name, tuple(sorted(labels.items())))
            if series in seen_series:
                raise Problem(f"line {lineno}: duplicate series {name}{labels}")
            seen_series.add(series)
            families[fam_name]["samples"].append((name, labels, value))
        except Problem as p:
            problems.append(str(p))

    for name, fam in families.items():
        if "type" not in fam:
            problems.append(f"{name}: no TYPE")
            continue
        if "help" not in fam or not fam["help"]:
            problems.append(f"{name}: no HELP text")
        if not SNAKE.match(name):
            problems.append(f"{name}: metric names are snake_case")
        for _, labels, _ in fam["samples"]:
            for label in labels:
                if not SNAKE.match(label):
                    problems.append(f"{name}: label {label} is not snake_case")
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                problems.append(f"{name}: counter names end in _total")
            for sname, labels, value in fam["samples"]:
                if sname != name:
                    problems.append(f"{name}: counter sample named {sname}")
                if not value >= 0:
                    problems.append(f"{name}{labels}: counter value {value} is negative")
        elif fam["type"] == "histogram":
            problems.extend(check_histogram(name, fam["samples"]))
        elif name.endswith("_total"):
            problems.append(f"{name}: only counters end in _total")
    return problems


def check_histogram(name, samples):
    problems = []
    groups = {}
    for sname, labels, value in samples:
        if sname == name + "_bucket":
            if "le" not in labels:
                problems.append(f"{name}: bucket without le")
                continue
            rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            try:
                le = parse_float(labels["le"])
            except Problem as p:
                problems.append(f"{name}: {p}")
                continue
            groups.setdefault(rest, {"buckets": []})["buckets"].append((le, value))
        elif sname in (name + "_sum", name + "_count"):
            if "le" in labels:
                problems.append(f"{sname} has an le label")
            rest = tuple(sorted(labels.items()))
            groups.setdefault(rest, {"buckets": []})[sname[len(name) + 1:]] = value
        else:
            problems.append(f"{name}: unexpected sample {sname}")
    for labels, g in groups.items():
        where = f"{name}{dict(labels)}"
        buckets = g["buckets"]
        les = [le for le, _ in buckets]
        if not buckets or les[-1] != math.inf:
            problems.append(f"{where}: the last bucket is not le=\"+Inf\"")
        if any(b <= a for a, b in zip(les, les[1:])):
            problems.append(f"{where}: le values do not increase strictly")
        counts = [v for _, v in buckets]
        if any(b < a for a, b in zip(counts, counts[1:])):
            problems.append(f"{where}: bucket counts are not cumulative")
        if "count" not in g or "sum" not in g:
            problems.append(f"{where}: _sum or _count missing")
        elif buckets and g["count"] != counts[-1]:
            problems.append(f"{where}: _count {g['count']} differs from +Inf bucket {counts[-1]}")
    return problems


GOOD = (
    '# HELP a_total A counter.\n# TYPE a_total counter\n'
    'a_total{k="x \\\\ \\" \\n é"} 1\na_total{k="y"} 0\n'
    '# HELP d_seconds A histogram.\n# TYPE d_seconds histogram\n'
    'd_seconds_bucket{op="s",le="0.1"} 1\nd_seconds_bucket{op="s",le="1"} 2\n'
    'd_seconds_bucket{op="s",le="+Inf"} 3\nd_seconds_sum{op="s"} 2.5\n'
    'd_seconds_count{op="s"} 3\n'
)

BAD = {
    "no final newline": GOOD[:-1],
    "unknown escape": GOOD.replace('"y"', '"\\t"'),
    "raw quote": GOOD.replace('"y"', '"a"b"'),
    "duplicate series": GOOD.replace('{k="y"}', '{k="x \\\\ \\" \\n é"}'),
    "duplicate label": GOOD.replace('{k="y"}', '{k="y",k="z"}'),
    "counter without _total": GOOD.replace("a_total", "a_count_x"),
    "negative counter": GOOD.replace('{k="y"} 0', '{k="y"} -1'),
    "no HELP": GOOD.replace("# HELP a_total A counter.\n", ""),
    "no TYPE": GOOD.replace("# TYPE a_total counter\n", ""),
    "second TYPE": GOOD.replace("# TYPE a_total counter\n", "# TYPE a_total counter\n" * 2),
    "not cumulative": GOOD.replace('le="1"} 2', 'le="1"} 0'),
    "no +Inf": GOOD.replace('d_seconds_bucket{op="s",le="+Inf"} 3\n', ""),
    "count differs": GOOD.replace('d_seconds_count{op="s"} 3', 'd_seconds_count{op="s"} 4'),
    "no sum": GOOD.replace('d_seconds_sum{op="s"} 2.5\n', ""),
    "le not increasing": GOOD.replace('le="1"', 'le="0.1"'),
    "bad value": GOOD.replace('{k="y"} 0', '{k="y"} zero'),
    "camelCase": GOOD.replace("a_total", "aTotal_total"),
    "not contiguous": GOOD + 'a_total{k="z"} 1\n',
    "sample without family": GOOD + "b 1\n",
    "empty line": GOOD.replace("\n#", "\n\n#", 1),
}


def self_test():
    failures = []
    if check(GOOD):
        failures.append(f"valid text rejected: {check(GOOD)}")
    for what, text in BAD.items():
        if not check(text):
            failures.append(f"{what}: accepted")
    for f in failures:
        print("promcheck self-test:", f, file=sys.stderr)
    print(f"{len(BAD) + 1 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"not UTF-8: {e}", file=sys.stderr)
        return 1
    problems = check(text)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
