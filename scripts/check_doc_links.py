#!/usr/bin/env python3
"""Check that every relative link `](path)` in the repository's Markdown files points at an existing file or directory."""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
SKIP_DIRS = {"target", "vendor", "fuzz/corpus", "fuzz/regressions", "fuzz/artifacts"}


def markdown_files():
    """Tracked and untracked-but-not-ignored Markdown files, outside third-party and generated trees."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    for name in out:
        if any(name == d or name.startswith(d + "/") for d in SKIP_DIRS):
            continue
        yield ROOT / name


def links(text):
    """(line number, target) of every link outside fenced code blocks and inline code."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for match in LINK.finditer(line):
            yield number, match.group(1)


def main():
    broken = 0
    for path in markdown_files():
        for number, target in links(path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # external URL, mailto:, or an anchor in the same page
            file_part = target.split("#", 1)[0]
            if not file_part:
                continue
            if not (path.parent / file_part).exists():
                print(f"{path.relative_to(ROOT)}:{number}: broken link {target}")
                broken += 1
    if broken:
        print(f"{broken} broken link(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
