#!/usr/bin/env python3
"""Reads a callgrind profile recorded with --dump-instr=yes and lld's link map of the profiled
binary, and prints the symbol order file lld links the release binary with.

    order_from_callgrind.py LINK_MAP BINARY_NAME SCRIPT CALLGRIND_OUT... > deploy/vigil.order

With several profiles (phases of one run: start-up, then work), the sections the first phase
executed come first, then what each later phase added: a gateway that only starts and idles
touches the first part alone, and one under load both.

lld moves whole input sections. Built with -function-sections, every function of the package and
its dependencies has a section of its own; the prebuilt static Swift runtime does not: much of it
lies in one plain `.text` section per object file, up to 1.6 MB. So within each phase the order
is by section: first the executed functions that have a section of their own, hottest first,
packed together; then the plain `.text` sections that hold executed code, hottest first. One
symbol names each section. Executed instructions are looked up in the link map by address, not
by callgrind's function names: callgrind leaves some small local functions unnamed.

Sections with no symbol at all (a class's destroyer `.Lobjectdestroy`, `.L__unnamed_N` helpers;
about 570 run, 17 KB in all) cannot be named in a symbol order. Left where they are, each one
costs a 64 KiB window of mapped code, so SCRIPT gets a linker script that puts them, by object
file and section name, in an output section of their own just before .text.
"""
import bisect
import collections
import re
import sys


def text_sections(link_map):
    """Input sections of the output .text: sorted lists of (address, size, name, first symbol, file)."""
    sections = []
    in_text = False
    entry = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+(\s+)(.*)$")
    with open(link_map, errors="replace") as lines:
        for line in lines:
            match = entry.match(line)
            if not match:
                continue
            address, size, gap, rest = match.groups()
            depth = len(gap)
            if depth == 1:  # an output section
                in_text = rest.strip() == ".text"
                continue
            if not in_text:
                continue
            if ":(" in rest:  # an input section: file:(name)
                name = rest[rest.rindex(":(") + 2:-1]
                sections.append([int(address, 16), int(size, 16), name, None, rest[:rest.rindex(":(")].strip()])
            elif sections and sections[-1][3] is None:
                sections[-1][3] = rest.strip()
    return sections


def executed(profile, object_suffix):
    """Instruction address -> cost (Ir) in the object whose path ends with object_suffix.
    Callgrind writes addresses relative to the object's load address: link-time addresses."""
    costs = collections.Counter()
    objects = {}
    current = None
    previous = 0
    call_cost_follows = False
    position = re.compile(r"^(0x[0-9a-fA-F]+|[+-]\d+|\*)\s+\S+\s+(\d+)")
    with open(profile, errors="replace") as lines:
        for line in lines:
            if line.startswith(("ob=", "cob=")):
                # An object's name is spelled out once, where its number first appears (either kind).
                match = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if match:
                    kind, ident, name = match.groups()
                    if name is not None:
                        objects[ident] = name
                    if kind == "ob":
                        current = objects.get(ident, "")
                continue
            if line.startswith("calls="):
                call_cost_follows = True
                continue
            match = position.match(line)
            if not match:
                continue
            token, cost = match.groups()
            if token.startswith("0x"):
                previous = int(token, 16)
            elif token != "*":
                previous += int(token)
            if current is not None and current.endswith(object_suffix):
                # The line after calls= is the call site with the callee's inclusive cost: the
                # instruction ran, but the cost is the callee's.
                costs[previous] += 0 if call_cost_follows else int(cost)
            call_cost_follows = False
    return costs


def script_pattern(file):
    """A linker script file pattern for an object as the link map names it, without the build
    directory: `*/VigilCLI.build/AlertsCommand.swift.o`, `*/libswiftCore.a:Swift.o`."""
    if file.endswith(")") and "(" in file:
        archive, member = file[:-1].split("(", 1)
        return "*/" + archive.rsplit("/", 1)[-1] + ":" + member
    parts = file.split("/")
    return "*/" + "/".join(parts[-2:])


def main():
    link_map, binary_name, script, profiles = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    sections = text_sections(link_map)
    starts = [section[0] for section in sections]
    ranked = []  # for each phase, the section indexes it added, hottest first
    seen = set()
    outside = 0
    for profile in profiles:
        heat = collections.Counter()
        for address, cost in executed(profile, "/" + binary_name).items():
            index = bisect.bisect_right(starts, address) - 1
            if index >= 0 and address < sections[index][0] + sections[index][1]:
                heat[index] += cost + 1
            else:
                outside += 1
        phase = [index for index, _ in heat.most_common() if index not in seen]
        seen.update(phase)
        ranked.append(phase)
    unnamed = [index for phase in ranked for index in phase if sections[index][3] is None]
    own, shared = [], []
    for phase in ranked:
        phase_own = [index for index in phase if sections[index][2] != ".text" and sections[index][3] is not None]
        phase_shared = [index for index in phase if sections[index][2] == ".text" and sections[index][3] is not None]
        for index in phase_own + phase_shared:
            print(sections[index][3])
        own += phase_own
        shared += phase_shared
    with open(script, "w") as out:
        out.write("/* Written by deploy/order_from_callgrind.py: executed sections that have no symbol. */\n")
        out.write("SECTIONS {\n  .text.unnamed : {\n")
        for index in unnamed:
            out.write(f"    {script_pattern(sections[index][4])}({sections[index][2]})\n")
        out.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"{len(own)} sections of one function ({sum(sections[i][1] for i in own) / 1e6:.2f} MB), "
          f"{len(shared)} shared .text sections ({sum(sections[i][1] for i in shared) / 1e6:.2f} MB), "
          f"{len(unnamed)} sections without a symbol ({sum(sections[i][1] for i in unnamed) / 1e3:.1f} KB) executed; "
          f"{outside} instruction addresses outside .text", file=sys.stderr)


if __name__ == "__main__":
    main()
