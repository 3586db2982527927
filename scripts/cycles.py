#!/usr/bin/env python3
"""Fails if the modules of a crate import each other in a circle.

    python3 scripts/cycles.py

For each crate in crates/, reads which of its sibling modules each module names (`crate::x`, and
names the crate root re-exports from a module), leaving out comments and `mod tests`, and
prints every cycle found. A module and its own submodules (`batch/linux.rs`) are one module.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def code(path):
    text = open(path).read().split("#[cfg(test)]\nmod tests")[0]
    return "\n".join(line for line in text.split("\n") if not line.strip().startswith("//"))


def reexports(lib):
    """Names the crate root re-exports, to the module each comes from."""
    names = {}
    for module, items in re.findall(r"pub use ([a-z_]+)::\{?([^;}]*)\}?;", code(lib)):
        for item in re.split(r"[,\s]+", items):
            if item:
                names[item] = module
    return names


def graph(src):
    modules = {f[:-3]: os.path.join(src, f) for f in os.listdir(src)
               if f.endswith(".rs") and f not in ("lib.rs", "main.rs")}
    names = reexports(os.path.join(src, "lib.rs"))
    edges = {}
    for module, path in modules.items():
        text = code(path)
        sub = os.path.join(src, module)
        if os.path.isdir(sub):
            text += "".join(code(os.path.join(sub, f)) for f in os.listdir(sub) if f.endswith(".rs"))
        named = set(re.findall(r"crate::([a-z_]+)", text))
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            named |= set(re.split(r"[,\s]+", group))
        named |= {names[n] for n in re.findall(r"crate::([A-Za-z_]+)", text) if n in names}
        named = {names.get(n, n) for n in named}
        edges[module] = {n for n in named if n in modules and n != module}
    return edges


def cycles(edges):
    found = set()

    def walk(start, node, path):
        for after in edges[node]:
            if after == start:
                found.add(" -> ".join(path + [start]))
            elif after not in path:
                walk(start, after, path + [after])

    for module in sorted(edges):
        walk(module, module, [module])
    # One line per set of modules, the shortest first: the rest are the same circle.
    shortest = {}
    for cycle in sorted(found, key=len):
        shortest.setdefault(frozenset(cycle.split(" -> ")), cycle)
    return sorted(shortest.values(), key=len)


def main():
    bad = 0
    for crate in sorted(os.listdir(os.path.join(ROOT, "crates"))):
        src = os.path.join(ROOT, "crates", crate, "src")
        found = cycles(graph(src))
        for cycle in found[:5]:
            print(f"crates/{crate}: modules in a circle: {cycle}", file=sys.stderr)
        if len(found) > 5:
            print(f"crates/{crate}: and {len(found) - 5} more circles", file=sys.stderr)
        bad += len(found)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
