#!/usr/bin/env python3
"""Which of a running program's code is resident, by module and by input section.

    bench/footprint/code-map.py PID LINK_MAP [--top N]

LINK_MAP is lld's link map of the very binary the process runs (`LINK_MAP=/tmp/vigil.map
deploy/build-release.sh` writes one; the stripped copy in dist/ has the same layout). The
kernel maps code in blocks of 64 KiB or more around each page a program executes, so what counts
is which pages are mapped, not which functions ran: this reads the process's page table
(/proc/PID/pagemap, the "present" bit) for the executable's code mapping and shares each
resident page out among the input sections it holds, by bytes.

Two tables: resident code per module (a Swift module of this package, or a static library of the
toolchain), and the largest resident input sections. A large section there is usually a whole
object's code in one piece (the toolchain's static libraries have a plain `.text` for much of
each module): one function of it that runs keeps the pages around it mapped, and the linker's
order can only move the piece as a whole.
"""
import collections
import os
import re
import struct
import sys

LINE = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+(\s+)(.*)$")


def code_segments(path):
    """(p_offset, p_vaddr, p_filesz) of each executable PT_LOAD segment of an ELF64 file."""
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:
            sys.exit(f"{path}: not a 64-bit ELF file")
        phoff, = struct.unpack_from("<Q", header, 32)
        phentsize, phnum = struct.unpack_from("<HH", header, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    segments = []
    for i in range(phnum):
        kind, flags, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
        if kind == 1 and flags & 1:
            segments.append((offset, vaddr, filesz))
    return segments


def resident_code_pages(pid, exe):
    """(load bias, resident page addresses, mapped address ranges) of the executable's code."""
    segments = code_segments(exe)
    present, ranges, bias = set(), [], None
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or "x" not in fields[1] or os.path.realpath(fields[5]) != exe:
                continue
            low, high = (int(x, 16) for x in fields[0].split("-"))
            offset = int(fields[2], 16)
            # The mapping starts at a page boundary, often before its segment (a small program's
            # code segment shares its first page with the headers).
            segment = next((s for s in segments if offset <= s[0] < offset + high - low), None)
            if segment is None:
                continue
            bias = low + (segment[0] - offset) - segment[1]
            pages = (high - low) // 4096
            ranges.append((low, high))
            pagemap.seek(low // 4096 * 8)
            entries = pagemap.read(pages * 8)
            for i in range(pages):
                if struct.unpack_from("<Q", entries, i * 8)[0] >> 63:
                    present.add(low + i * 4096)
    if bias is None:
        sys.exit(f"no executable mapping of {exe} in process {pid}")
    return bias, present, ranges


def input_sections(link_map):
    """(address, size, file, section) of every input section in the map with a size."""
    sections, output = [], ""
    with open(link_map, errors="replace") as f:
        for line in f:
            match = LINE.match(line)
            # The column the last field starts in tells output section (1 space), input section
            # (9) and symbol (17) apart. Sections not loaded (debug information, symbol tables)
            # start at address 0 and can overlap anything.
            if match and len(match.group(3)) == 1:
                output = match.group(4) if int(match.group(1), 16) else ""
            if not match or len(match.group(3)) != 9 or not output:
                continue
            address, size, text = int(match.group(1), 16), int(match.group(2), 16), match.group(4)
            if size == 0 or ":(" not in text:
                continue
            file, section = text.rsplit(":(", 1)
            sections.append((address, size, file, section.rstrip(")")))
    return sections


def module_of(file):
    """A Swift module of the package (`X.build/`), a static library, or the object's name."""
    if ".build/" in file:
        return file.split(".build/")[0].rsplit("/", 1)[-1]
    archive = re.search(r"([^/]+\.a)\(", file)
    return archive.group(1) if archive else file.rsplit("/", 1)[-1]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pid, link_map = int(sys.argv[1]), sys.argv[2]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 25
    exe = os.path.realpath(f"/proc/{pid}/exe")
    bias, present, ranges = resident_code_pages(pid, exe)
    by_module, size_of_module, by_section = collections.Counter(), collections.Counter(), []
    for address, size, file, section in input_sections(link_map):
        start, end = address + bias, address + bias + size
        if not any(low <= start < high for low, high in ranges):
            continue  # data, debug information
        resident, at = 0, start
        while at < end:
            page = at & ~4095
            step = min(end, page + 4096) - at
            if page in present:
                resident += step
            at += step
        module = module_of(file)
        by_module[module] += resident
        size_of_module[module] += size
        if resident:
            by_section.append((resident, size, f"{file.rsplit('/', 1)[-1]}:({section[:60]})"))
    mapped = sum(high - low for low, high in ranges)
    print(f"code of {exe} (process {pid}): {mapped / 2**20:.1f} MiB mapped, "
          f"{len(present) * 4096 / 2**20:.1f} MiB resident")
    print("\nresident KiB  of KiB  module or library")
    for module, resident in by_module.most_common(top):
        print(f"{resident / 1024:12.0f} {size_of_module[module] / 1024:7.0f}  {module}")
    print("\nlargest resident input sections")
    for resident, size, name in sorted(by_section, reverse=True)[:top]:
        print(f"{resident / 1024:12.0f} {size / 1024:7.0f}  {name}")


if __name__ == "__main__":
    main()
