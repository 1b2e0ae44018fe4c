#!/usr/bin/env python3
"""Import cycles among the modules of one crate.

Usage: .ci/module-cycles.py [CRATE_SRC_DIR]   (default: sim/src)

A module is a file under the crate's src/ (`foo/mod.rs` is module `foo`). An edge A -> B means
A's source names `crate::B` (in a `use` or a path) or, for a file inside a folder module, `super::`
resolves to B. Prints every strongly connected component with more than one module (each is an
import cycle) and exits 1 if there is any.
"""
import os
import re
import sys


def module_of(path, root):
    rel = os.path.relpath(path, root)[: -len(".rs")]
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts in (["lib"], ["main"]):
        return "crate"
    return "::".join(parts)


def resolve(path, modules):
    """The longest known module that is a prefix of `path` (a::b::c)."""
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        cand = "::".join(parts[:n])
        if cand in modules:
            return cand
    return None


def expand_use(text):
    """`crate::{a, b::{c, d}}` -> ['crate::a', 'crate::b::c', 'crate::b::d'] (best effort)."""
    out = []
    m = re.match(r"([\w:]*?)::\{(.*)\}$", text, re.S)
    if not m:
        return [text]
    prefix, body = m.group(1), m.group(2)
    depth, cur, items = 0, "", []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    for it in items:
        it = it.strip()
        if not it:
            continue
        for e in expand_use(it):
            out.append(prefix + "::" + e if e != "self" else prefix)
    return out


def edges(root):
    files = []
    for d, _, fs in os.walk(root):
        files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
    modules = {module_of(f, root): f for f in files}
    graph = {m: set() for m in modules}
    for m, f in modules.items():
        src = open(f, encoding="utf-8").read()
        src = re.sub(r"//[^\n]*", "", src)  # comments (incl. doc comments) are not imports
        me = m.split("::") if m != "crate" else []
        is_dir = f.endswith("mod.rs") or m == "crate"
        parent = me if is_dir else me[:-1]
        paths = []
        for u in re.finditer(r"\buse\s+([^;]+);", src):
            paths += expand_use(re.sub(r"\s+", "", u.group(1)))
        paths += re.findall(r"\b(crate(?:::\w+)+)", src)
        paths += re.findall(r"\b((?:super::)+\w+(?:::\w+)*)", src)
        for p in paths:
            p = p.split(" as ")[0]
            if p.startswith("crate::"):
                target = p[len("crate::"):]
            elif p.startswith("super::"):
                base = list(parent)
                while p.startswith("super::"):
                    p = p[len("super::"):]
                    base = base[:-1]
                target = "::".join(base + [p]) if base else p
            else:
                continue
            t = resolve(target, modules)
            if t and t != m and t != "crate" and not m.startswith(t + "::") and not t.startswith(m + "::"):
                graph[m].add(t)
    return graph


def sccs(graph):
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return [c for c in out if len(c) > 1]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "sim/src"
    cycles = sccs(edges(root))
    for c in sorted(cycles, key=len, reverse=True):
        print(f"cycle of {len(c)} modules: {', '.join(c)}")
    print(f"{len(cycles)} import cycle(s) in {root}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
