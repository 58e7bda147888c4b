"""Every relative link in the repository's Markdown resolves inside the
repository: a clone has no ../shared, and a renamed page leaves no dead link."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# [text](target) and [label]: target, skipping code spans and fenced blocks
INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)


def links(text):
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [m.group(1) for m in INLINE.finditer(text)] + \
        [m.group(1) for m in DEFINITION.finditer(text)]


def test_the_link_finder_finds_links():
    assert links("a [x](b/c.md#d) `[y](no.md)`\n[z]: e.md\n```\n[w](no.md)\n```\n"
                 "![img](f.png \"t\")\n") == ["b/c.md#d", "f.png", "e.md"]


def test_every_relative_link_in_the_docs_resolves():
    files = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()
    assert "README.md" in files and "labs/3-scheduler/handout.md" in files
    dead, checked = [], 0
    for name in files:
        with open(os.path.join(ROOT, name)) as f:
            text = f.read()
        for link in links(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I) or link.startswith("#"):
                continue            # http:, mailto:, an anchor in the same page
            path = link.split("#", 1)[0]
            target = os.path.normpath(os.path.join(ROOT, os.path.dirname(name), path))
            checked += 1
            if not target.startswith(ROOT + os.sep) or not os.path.exists(target):
                dead.append(f"{name}: {link}")
    assert checked > 10
    assert not dead, "dead links: " + ", ".join(dead)
