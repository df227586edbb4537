#!/usr/bin/env python3
"""Fail if the modules of a crate depend on each other in a cycle.

    scripts/check-cycles.py [CRATE_SRC_DIR ...]     (default: core/src mock/src)

Each .rs file is one module (`a/b.rs` and `a/b/mod.rs` are `a::b`, `lib.rs` is the root). A file
depends on another when its code names an item there: `use crate::x::y`, `crate::x::y(...)`,
`super::z`, a child module by its bare name (`browser::sign_in`), and a name the module
re-exports and uses itself (`pub use chain::Chain;` then `Chain::new()`). Not counted: `mod` declarations, re-exports (`pub use`, `pub(crate) use`: a facade
that names what its children define is not a dependency of the facade on them) and `#[cfg(test)]`
modules at the end of a file. Exit 1 and print each cycle found; `--graph` prints the edges.
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            if rel and rel[0] == "bin":
                continue
            mods[tuple(rel)] = os.path.join(root, f)
    return mods


def reexports(path):
    """(anchor, path parts, name) of each item a file re-exports (`pub use x::y::{A, B as C};`)."""
    text = open(path, encoding="utf-8").read()
    out = []
    for m in re.finditer(r"\bpub(?:\([a-z]+\))?\s+use\s+([^;]*);", text):
        body = re.sub(r"\s+", "", m.group(1))
        head, _, group = body.partition("{")
        items = group.rstrip("}").split(",") if group else [head.split("::")[-1]]
        head = head.rstrip(":") if group else "::".join(head.split("::")[:-1])
        parts = [p for p in head.split("::") if p]
        anchor = parts[0] if parts and parts[0] in ("crate", "super", "self") else "self"
        if parts and parts[0] in ("crate", "super", "self"):
            parts = parts[1:]
        for item in items:
            if not item:
                continue
            original, _, alias = item.partition("as")
            out.append((anchor, parts + [p for p in original.split("::") if p], alias or original.split("::")[-1]))
    return out


def code_of(path):
    text = open(path, encoding="utf-8").read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+\s*\{", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    lines = [l for l in text.split("\n") if not re.match(r"\s*pub(\([a-z]+\))?\s+use\b", l)]
    # A multi-line re-export: drop it whole.
    text = "\n".join(lines)
    text = re.sub(r"\bpub(\([a-z]+\))?\s+use\s[^;]*;", "", text)
    return text


def resolve(mod, anchor, rest, mods):
    if anchor == "crate":
        base = []
    elif anchor == "self":
        base = list(mod)
    else:
        base = list(mod[:-1])
    parts = rest
    while parts and parts[0] == "super":
        base = base[:-1]
        parts = parts[1:]
    full = base + parts
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return None


def edges_of(mod, path, mods):
    text = code_of(path)
    out = set()
    refs = []
    for m in USE_GROUP.finditer(text):
        prefix = [p for p in m.group(2).split("::") if p]
        for item in re.split(r"[,{}\s]+", m.group(3)):
            item = item.split(" as ")[0]
            names = [p for p in item.split("::") if p and p != "self"]
            if names and re.match(r"[A-Za-z_]", names[0]):
                refs.append((m.group(1), prefix + names))
        text = text.replace(m.group(0), "")
    for m in PATH.finditer(text):
        refs.append((m.group(1), [p for p in m.group(2).split("::") if p]))
    # A child module named without `self::` (`browser::sign_in(..)`, `use browser::X`).
    for child in (m for m in mods if len(m) == len(mod) + 1 and m[: len(mod)] == mod):
        if re.search(r"(?<![:\w])" + child[-1] + r"::", text):
            refs.append(("self", [child[-1]]))
    # A name the module re-exports and also uses itself: a dependency on where it comes from.
    for anchor, parts, alias in reexports(path):
        if re.match(r"[A-Za-z_]\w*$", alias) and re.search(r"(?<![:\w])" + alias + r"\b", text):
            refs.append((anchor, parts))
    for anchor, rest in refs:
        target = resolve(mod, anchor, rest, mods)
        if target is not None and target != mod and target != ():
            out.add(target)
    return out


def cycles(graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def name(mod):
    return "::".join(mod) or "crate"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--graph" in sys.argv
    bad = 0
    for src in args or ["core/src", "mock/src"]:
        mods = modules(src)
        graph = {m: edges_of(m, p, mods) for m, p in mods.items()}
        if show:
            for m in sorted(graph):
                print(f"{src}: {name(m)} -> {', '.join(name(t) for t in sorted(graph[m]))}")
        found = cycles(graph)
        for comp in found:
            inner = [f"{name(a)} -> {name(b)}" for a in comp for b in sorted(graph[a]) if b in comp]
            print(f"{src}: cycle among {', '.join(name(m) for m in comp)}: {'; '.join(inner)}")
        bad += len(found)
        if not found:
            print(f"{src}: {len(mods)} modules, no import cycle")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
