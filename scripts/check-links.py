#!/usr/bin/env python3
"""Every relative link of the README and docs/ points at a file that exists, and every
#anchor at a heading of its target (GitHub's slugs)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def slug(heading):
    return re.sub(r"[^a-z0-9_ -]", "", heading.strip().lower()).replace(" ", "-")


def headings(path):
    return {slug(h) for h in re.findall(r"(?m)^#+ (.*)$", open(path).read())}


def main():
    files = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
    bad = []
    for f in files:
        text = open(os.path.join(ROOT, f)).read()
        base = os.path.dirname(os.path.join(ROOT, f))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            full = os.path.normpath(os.path.join(base, path)) if path else os.path.join(ROOT, f)
            if not os.path.exists(full):
                bad.append(f"{f}: {target}: no such file")
            elif anchor and full.endswith(".md") and anchor not in headings(full):
                bad.append(f"{f}: {target}: no such heading")
    for b in bad:
        print(b, file=sys.stderr)
    print(f"  {len(files)} documents: every relative link and anchor resolves" if not bad else "")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
