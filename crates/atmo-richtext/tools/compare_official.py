#!/usr/bin/env python3
"""Compares this crate's facet detection with the official client's.

  compare_official.py inputs OUT.json            writes the texts to compare
  compare_official.py compare IN.json OURS.json OFFICIAL.json
  compare_official.py segment-inputs OUT.json    texts for segments/cleaning
  compare_official.py same IN.json OURS.json OFFICIAL.json

The texts are every input of tests/detection.rs plus generated ones made of
tricky pieces (fixed seed, so every run compares the same texts). The
comparison leaves out the differences the crate documents as deliberate (see
its crate docs), and prints and counts every other one: exit status 1 when
there is any. `same` compares segments and newline cleaning, where no
difference is deliberate.
"""
import json
import random
import re
import sys

PIECES = [
    " ", " ", "\n", "\u3000", "\u200B", "\u200D", "\u00AD", "\uFE0F", "\u20E3", "#", "＃",
    "@", "(", ")", ".", ",", "!", "?", ":", "-", "_", "/", "1", "42", "a", "word", "Ünï",
    "e\u0301", "👨‍👩‍👧‍👧", "🦋", "🇯🇵", "שלום", "مرحبا", "日本語", "東京、", "。",
    "alice.test", "bsky.app", "example.com", "https://", "http://x.com/(a)",
    "@bob.bsky.social", "#tag", "#１２３", "file.jpg", "e.g.", "\u202E", "\r\n", "$",
    "$AAPL", "$tsla.", "HTTPS://X.COM", "httpbin.org", "\"", "'", "\u2019", "..",
    "(@a.test", "my-site.com", "sub.my-site.com", "a..com", "@x.xn--p1ai", "\u0085",
    "\uFEFF", "\u180E", "Example.COM", "e.g./foo", "@", "#", "\t",
]
GENERATED = 30000


def rust_literal(lit):
    body = lit[1:-1].replace('\\"', '"')
    body = re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: chr(int(m.group(1), 16)), body)
    return body.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


def inputs(out_path):
    here = __file__.rsplit("/tools/", 1)[0]
    src = open(here + "/tests/detection.rs", encoding="utf-8").read()
    texts = [rust_literal(m.group(1)) for m in re.finditer(r'^\s+\w+: (".*?") =>', src, re.M)]
    rng = random.Random(7)
    for _ in range(GENERATED):
        texts.append("".join(rng.choice(PIECES) for _ in range(rng.randrange(24))))
    json.dump(texts, open(out_path, "w", encoding="utf-8"), ensure_ascii=False)
    print(f"{len(texts)} texts")


LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def valid_handle(h):
    labels = h.split(".")
    return (
        len(h) <= 253
        and len(labels) >= 2
        and all(LABEL.match(label) for label in labels)
        and not labels[-1][0].isdigit()
    )


def covered(text, facet):
    return text.encode("utf-8")[facet[0]:facet[1]].decode("utf-8", "replace")


def starts_http_not_scheme(s):
    low = s.lower()
    return low.startswith("http") and not low.startswith(("http://", "https://"))


def deliberate_official(text, f):
    """Facets the official client makes and this crate deliberately does not."""
    _, _, kind, value = f
    if kind == "mention":
        return not valid_handle(value)
    if kind == "link":
        return (
            not value.startswith(("http://", "https://"))  # bare "http…" domain, unprefixed
            or value in ("http://", "https://")  # scheme only
            or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)  # not a valid uri
        )
    return kind == "tag" and len(value.encode("utf-8")) > 640


def deliberate_ours(text, f):
    """Facets this crate makes and the official client deliberately does not."""
    _, _, kind, _ = f
    if kind != "link":
        return False
    shown = covered(text, f)
    capital_scheme = shown.lower().startswith(("http://", "https://")) and not shown.startswith("http")
    return capital_scheme or starts_http_not_scheme(shown)


def compare(in_path, ours_path, official_path):
    texts = json.load(open(in_path, encoding="utf-8"))
    ours = json.load(open(ours_path, encoding="utf-8"))
    official = json.load(open(official_path, encoding="utf-8"))
    deliberate = 0
    unexplained = []
    for text, a, b in zip(texts, ours, official):
        a2 = [f for f in a if not deliberate_ours(text, f)]
        b2 = [f for f in b if not deliberate_official(text, f)]
        if a2 != b2:
            unexplained.append((text, a, b))
        elif a != b:
            deliberate += 1
    for text, a, b in unexplained[:20]:
        print(repr(text))
        print("  ours:    ", a)
        print("  official:", b)
    print(
        f"{len(texts)} texts: {len(texts) - deliberate - len(unexplained)} identical, "
        f"{deliberate} differ only deliberately, {len(unexplained)} differ otherwise"
    )
    return 1 if unexplained else 0


SEGMENT_PIECES = [
    "\n", "\n", "\n", " ", "\r", "\u200B", "\u00AD", "\u3000", "\t", "\u2028", "a",
    "#tag", "@alice.test", "example.com", "👨‍👩‍👧‍👧", "שלום", "日本語", "e\u0301",
    "https://x.com/a", "$AAPL",
]


def segment_inputs(out_path):
    rng = random.Random(11)
    texts = [
        "".join(rng.choice(SEGMENT_PIECES) for _ in range(rng.randrange(30)))
        for _ in range(20000)
    ]
    json.dump(texts, open(out_path, "w", encoding="utf-8"), ensure_ascii=False)
    print(f"{len(texts)} texts")


def same(in_path, ours_path, official_path):
    texts = json.load(open(in_path, encoding="utf-8"))
    ours = json.load(open(ours_path, encoding="utf-8"))
    official = json.load(open(official_path, encoding="utf-8"))
    differ = [(t, a, b) for t, a, b in zip(texts, ours, official) if a != b]
    for text, a, b in differ[:20]:
        print(repr(text))
        print("  ours:    ", a)
        print("  official:", b)
    print(f"{len(texts)} texts: segments and cleaning differ in {len(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["segment-inputs"] and len(sys.argv) == 3:
        segment_inputs(sys.argv[2])
        sys.exit(0)
    if sys.argv[1:2] == ["same"] and len(sys.argv) == 5:
        sys.exit(same(*sys.argv[2:5]))
    if sys.argv[1:2] == ["inputs"] and len(sys.argv) == 3:
        inputs(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 5:
        sys.exit(compare(*sys.argv[2:5]))
    else:
        sys.exit(__doc__)
