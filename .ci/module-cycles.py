#!/usr/bin/env python3
"""Fails when the top-level modules of a crate import each other in a cycle.

For every crate under crates/ (and migrations, tests), each file under src/ belongs to the
top-level module its path starts with (src/sessions/turn.rs -> sessions, src/lib.rs -> the
crate root, left out). A `use crate::x…` or `crate::x::…` path in a module's files is an edge
to module x. Tests may reach anywhere: files named `*_tests.rs` or `tests.rs`, and everything
from a file's first `#[cfg(test)]` on (the test module at the end), are left out. Prints each
cycle with the imports that close it.
Usage: .ci/module-cycles.py [ROOT]
"""
import re
import sys
from pathlib import Path

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def module_of(src: Path, file: Path):
    rel = file.relative_to(src)
    first = rel.parts[0]
    if len(rel.parts) == 1:
        first = first[:-3]  # strip .rs
        if first in ("lib", "main"):
            return None
    return first


def edges_of(text: str):
    found = set(PATH.findall(text))
    for group in GROUP.findall(text):
        for item in group.split(","):
            head = item.strip().split("::")[0].strip("{} \n")
            if re.fullmatch(r"[a-z_][a-z0-9_]*", head or ""):
                found.add(head)
    return found


def graph_of(src: Path):
    graph = {}
    for file in sorted(src.rglob("*.rs")):
        if "bin" in file.relative_to(src).parts[:1]:
            continue
        if file.name == "tests.rs" or file.name.endswith("_tests.rs"):
            continue
        module = module_of(src, file)
        if module is None:
            continue
        # Strip comments so a doc mentioning crate::x is not an edge.
        text = file.read_text().split("#[cfg(test)]")[0]
        text = re.sub(r"//[^\n]*", "", text)
        targets = {t for t in edges_of(text) if t != module}
        graph.setdefault(module, set()).update(targets)
    modules = set(graph)
    return {m: {t for t in ts if t in modules} for m, ts in graph.items()}


def cycles_of(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def self_test():
    """The check must fail on a cycle: a scratch crate whose a and b import each other."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        src = Path(scratch) / "crates" / "demo" / "src"
        (src / "b").mkdir(parents=True)
        (src / "lib.rs").write_text("mod a;\nmod b;\nmod c;\n")
        (src / "a.rs").write_text("use crate::b::{Thing};\n")
        (src / "b" / "mod.rs").write_text("pub struct Thing;\nfn f() { crate::a::g(); }\n")
        (src / "c.rs").write_text("// crate::a in a comment is no edge\n#[cfg(test)]\nuse crate::a;\n")
        cycles = cycles_of(graph_of(src))
        assert cycles == [["a", "b"]], cycles
        (src / "b" / "mod.rs").write_text("pub struct Thing;\n")
        assert cycles_of(graph_of(src)) == [], "no cycle once b stops using a"
    print("self-test: a cycle is found, and nothing else")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    failed = False
    crates = sorted(p.parent for p in root.glob("crates/*/src")) + [
        p.parent for p in (root / "migrations" / "src", root / "tests" / "src") if p.exists()
    ]
    for crate in crates:
        graph = graph_of(crate / "src")
        for cycle in cycles_of(graph):
            failed = True
            path = " -> ".join(cycle)
            print(f"{crate.name}: modules import each other in a cycle: {path}")
            for module in cycle:
                inside = sorted(t for t in graph[module] if t in cycle)
                print(f"    {module} uses {', '.join(inside)}")
    if failed:
        sys.exit(1)
    print(f"no module cycles in {len(crates)} crates")


if __name__ == "__main__":
    main()
