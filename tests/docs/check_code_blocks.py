#!/usr/bin/env python3
"""Compiles every C++ code block of the documentation, so that it cannot rot.

    check_code_blocks.py --cxx g++ --root <source dir> --out <dir> [-I dir] [-isystem dir] [-D macro] FILE_OR_DIR...

Each ```cpp block of the given Markdown files (and of the *.md files in given directories) is either

- a complete program: it defines `main`; or
- a fragment of one, marked by an HTML comment on the line just before its fence:

      <!-- fragment: coroutine -->
      ```cpp
      co_await beeline::flush(std::chrono::seconds(5));
      ```

  The name is a wrapper in tests/docs/fragments/<name>.cpp: a program with a line `// @BLOCK@` where the
  block goes, and the declarations the fragment uses (a `cfg`, a request, a coroutine body).

An unmarked block without `main`, or a fragment naming no wrapper, fails the test with its file and line. So
does a relative link to a file that does not exist, or to a heading that the file does not have.

All blocks are compiled (-fsyntax-only) as one translation unit, each in a namespace of its own with its
#include lines moved to the top, because a single Beast translation unit costs most of the time: one pass
over all of them is about as cheap as one block alone (the price: a block that misses an #include another
block has still compiles). `#line` directives make every diagnostic name the
Markdown file and line. When that compile fails, the blocks named in its diagnostics are set aside and the
others compiled again, until what is left compiles; every failing block is then listed.
"""
import argparse
import os
import re
import subprocess
import sys

FENCE_OPEN = re.compile(r"^(\s*)```(cpp|c\+\+)\s*$")
FENCE_CLOSE = re.compile(r"^\s*```\s*$")
MARKER = re.compile(r"^\s*<!--\s*fragment:\s*([A-Za-z0-9_-]+)\s*-->\s*$")
HAS_MAIN = re.compile(r"^\s*int\s+main\s*\(", re.MULTILINE)
INCLUDE = re.compile(r"^\s*#\s*include\s*[<\"]")
BLOCK_SLOT = "// @BLOCK@"


class Block:
    def __init__(self, path, line, lines, fragment):
        self.path = path  # as shown in messages (relative to the source root)
        self.line = line  # 1-based line of the block's first code line
        self.lines = lines
        self.fragment = fragment

    @property
    def where(self):
        return f"{self.path}:{self.line - 1}"  # the fence's line


def find_blocks(path, shown):
    blocks = []
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\n")
    i = 0
    while i < len(text):
        m = FENCE_OPEN.match(text[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        j = i - 1
        while j >= 0 and not text[j].strip():
            j -= 1
        marker = MARKER.match(text[j]) if j >= 0 else None
        body = []
        k = i + 1
        while k < len(text) and not FENCE_CLOSE.match(text[k]):
            line = text[k]
            body.append(line[indent:] if line[:indent].strip() == "" else line)
            k += 1
        if k == len(text):
            raise SystemExit(f"{shown}:{i + 1}: a ```cpp block is never closed")
        blocks.append(Block(shown, i + 2, body, marker.group(1) if marker else None))
        i = k + 1
    return blocks


LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def anchors(path):
    found, seen, fenced = set(), {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("```"):
                fenced = not fenced
            m = None if fenced else HEADING.match(line)
            if m:
                a = slug(m.group(1))
                n = seen.get(a, 0)
                seen[a] = n + 1
                found.add(a if n == 0 else f"{a}-{n}")
    return found


def broken_links(path, shown):
    """Relative links (file, file#heading, #heading) that lead nowhere."""
    problems = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fenced = False
    for n, line in enumerate(lines):  # fenced blocks are code, not links
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines[n] = ""
        elif fenced:
            lines[n] = ""
    # Inline code (which may wrap onto the next line) is not a link either; the line count is kept.
    text = re.sub(r"`[^`]*`", lambda m: "\n" * m.group().count("\n"), "\n".join(lines))
    for n, line in enumerate(text.split("\n"), 1):
        for m in LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                problems.append(f"{shown}:{n}: link to {target}: {file_part} does not exist")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                problems.append(f"{shown}:{n}: link to {target}: no heading with anchor #{anchor}")
    return problems


def wrapper_lines(fragments_dir, name):
    path = os.path.join(fragments_dir, name + ".cpp")
    if not os.path.isfile(path):
        return None, path
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n"), path


def compose(blocks, fragments_dir, root):
    """One translation unit: every block's includes first, then each block in its own namespace."""
    includes, bodies = [], []
    for n, b in enumerate(blocks):
        pieces = []  # (file shown, first line number, lines)
        if b.fragment:
            wrapper, wpath = wrapper_lines(fragments_dir, b.fragment)
            shown_w = os.path.relpath(wpath, root)
            slot = next(i for i, l in enumerate(wrapper) if l.strip() == BLOCK_SLOT)
            pieces = [(shown_w, 1, wrapper[:slot]), (b.path, b.line, b.lines),
                      (shown_w, slot + 2, wrapper[slot + 1:])]
        else:
            pieces = [(b.path, b.line, b.lines)]
        body = [f"namespace doc_block_{n} {{"]
        for shown, first, lines in pieces:
            body.append(f'#line {first} "{shown}"')
            for off, line in enumerate(lines):
                if INCLUDE.match(line):
                    includes.append(f'#line {first + off} "{shown}"')
                    includes.append(line.strip())
                    body.append("")  # keeps the numbering of the lines after it
                else:
                    body.append(line)
        body.append("}")
        bodies.append("\n".join(body))
    return "\n".join(includes) + "\n" + "\n".join(bodies) + "\n"


def compile_blocks(blocks, args, out_file):
    with open(out_file, "w", encoding="utf-8") as f:
        f.write(compose(blocks, args.fragments, args.root))
    cmd = [args.cxx, "-std=c++20", "-fsyntax-only", "-w"] + args.flags + [out_file]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def blocks_named_in(output, blocks):
    """The blocks a compiler's diagnostics point into (by Markdown file and line)."""
    named = set()
    for m in re.finditer(r"fragments/([A-Za-z0-9_-]+)\.cpp:\d+", output):  # a wrapper fails all who use it
        named.update(id(b) for b in blocks if b.fragment == m.group(1))
    for m in re.finditer(r"([^\s:]+\.md):(\d+)", output):
        path, line = m.group(1), int(m.group(2))
        for b in blocks:
            if b.path == path and b.line <= line < b.line + len(b.lines):
                named.add(id(b))
    return [b for b in blocks if id(b) in named]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cxx", required=True)
    p.add_argument("--root", required=True, help="the source root; messages name files relative to it")
    p.add_argument("--out", required=True)
    p.add_argument("--fragments", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fragments"))
    p.add_argument("inputs", nargs="+")
    args, flags = p.parse_known_args()
    args.flags = flags  # -I, -isystem, -D for the compiler
    root = os.path.abspath(args.root)
    args.root = root

    files = []
    for i in args.inputs:
        if os.path.isdir(i):
            files += sorted(os.path.join(i, f) for f in os.listdir(i) if f.endswith(".md"))
        else:
            files.append(i)
    blocks = []
    for f in files:
        blocks += find_blocks(f, os.path.relpath(os.path.abspath(f), root))

    problems = []
    for f in files:
        problems += broken_links(f, os.path.relpath(os.path.abspath(f), root))
    for b in blocks:
        if b.fragment is None and not HAS_MAIN.search("\n".join(b.lines)):
            problems.append(f"{b.where}: a C++ block without main() and not marked as a fragment; mark it with "
                            f"<!-- fragment: NAME --> (a wrapper in tests/docs/fragments/) or make it a program")
        elif b.fragment is not None and wrapper_lines(args.fragments, b.fragment)[0] is None:
            problems.append(f"{b.where}: fragment wrapper '{b.fragment}' does not exist "
                            f"(tests/docs/fragments/{b.fragment}.cpp)")
    if problems:
        print("\n".join(problems))
        return 1

    os.makedirs(args.out, exist_ok=True)
    remaining, failed, rounds = list(blocks), [], 0
    while remaining:
        rounds += 1
        ok, output = compile_blocks(remaining, args, os.path.join(args.out, f"doc_blocks_{rounds}.cpp"))
        if ok:
            break
        named = blocks_named_in(output, remaining)
        if not named:  # an error outside any block (a wrapper): report it and stop
            print(output)
            print("error: the documentation's code blocks do not compile, and the error is in no block")
            return 1
        print(output)
        failed += named
        remaining = [b for b in remaining if b not in named]

    for b in blocks:
        kind = f"fragment ({b.fragment})" if b.fragment else "program"
        print(f"{'FAILED' if b in failed else 'ok    '} {b.where} {kind}")
    print(f"{len(blocks) - len(failed)} of {len(blocks)} C++ blocks compile ({rounds} compiler run(s))")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
