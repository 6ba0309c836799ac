#!/usr/bin/env python3
"""Flash of the firmware image, part by part.

    flash.py ELF [--embed NAME=FILE ...] [--limit BYTES] [--markdown]

Reads the sizes of every function and named constant with
`arm-none-eabi-nm -S --size-sort -C` and charges each to the part whose source defines
it (a generic function instantiated for another crate's types is charged to the crate
that defines it). The embedded files (`--embed`) are found byte for byte in `.rodata`.
What `nm` cannot name in `.rodata` (string literals, panic locations, formatting
pieces, lookup tables of unnamed constants) is its own row. The section sizes come from
`arm-none-eabi-size -A`: flash is `.vector_table` + `.text` + `.rodata` + `.data`
(its initial values are stored in flash).

Exits 1 when the flash total is over `--limit`.
"""

import argparse
import subprocess
import sys

# Crate (first path segment of a symbol) -> part, in the order the table lists them.
PARTS = [
    ("wasmi", {"wasmi", "wasmi_core", "wasmi_ir", "wasmi_collections", "wasmparser", "libm"}),
    ("hookr", {"hookr"}),
    ("codec (hookr-abi)", {"hookr_abi", "rmp"}),
    ("sha2", {"sha2", "digest", "block_buffer", "hybrid_array", "crypto_common"}),
    ("defmt (+ semihosting transport)", {"defmt", "defmt_semihosting", "semihosting"}),
    ("example's own code", {"hookr_firmware", "main"}),
    ("cortex-m, rt, heap, panic handler", {
        "cortex_m", "cortex_m_rt", "cortex_m_semihosting", "embedded_alloc", "rlsf", "spin",
        "critical_section", "panic_probe", "panic_semihosting", "const_default",
        "Reset", "DefaultHandler", "DefaultHandler_", "DefaultPreInit", "HardFault",
        "HardFaultTrampoline", "__pre_init", "__INTERRUPTS", "__EXCEPTIONS", "__RESET_VECTOR",
        "_defmt_acquire", "_defmt_release", "_defmt_write", "_defmt_flush", "_defmt_timestamp",
        "_defmt_panic",
    }),
    ("core, alloc, compiler_builtins", {"core", "alloc", "compiler_builtins", "__rustc"}),
]
EMBEDDED = "embedded: "
UNNAMED = "unnamed constants (strings, panic locations, tables)"
OUTLINED = "machine-outlined code shared by all"
OTHER = "other"


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def crate_of(name):
    """The crate that defines a demangled symbol, or the bare symbol name."""
    s = name
    if s.startswith("<"):
        # `<Type as Trait>::item`: the type's crate, or the trait's when the type is a
        # primitive or a generic parameter (no path of its own).
        inner = s[1:]
        ty, _, rest = inner.partition(" as ")
        ty = ty.lstrip("&*[( ").removeprefix("mut ").removeprefix("const ").removeprefix("dyn ")
        head = ty.split("<", 1)[0]
        if "::" in head:
            return head.split("::", 1)[0]
        if rest:
            return rest.lstrip("&*[( ").split("::", 1)[0]
        return head
    if "::" in s.split("<", 1)[0]:
        return s.split("::", 1)[0]
    # Unmangled: C symbols from compiler_builtins, the runtime's entry points.
    if s.startswith(("__aeabi", "mem", "__udiv", "__div", "__mod", "__umod", "__ashl", "__lshr",
                     "__ashr", "__mul", "__clz", "__ctz", "__popcount", "__fix", "__float",
                     "__addsf", "__adddf", "__subsf", "__subdf", "__mulsf", "__muldf",
                     "__divsf", "__divdf", "__extend", "__trunc", "__eq", "__ne", "__lt",
                     "__le", "__gt", "__ge", "__unord", "__cmp", "__bswap", "fmod", "fmin",
                     "fmax", "sqrt", "floor", "ceil", "trunc", "rint", "round", "copysign",
                     "fabs")):
        return "compiler_builtins"
    return s


def part_of(name):
    if name.startswith(".L"):
        return UNNAMED
    if name.startswith("OUTLINED_FUNCTION"):
        return OUTLINED
    crate = crate_of(name)
    for part, crates in PARTS:
        if crate in crates:
            return part
    return OTHER


def sections(elf):
    sizes = {}
    for line in run("arm-none-eabi-size", "-A", elf).splitlines():
        f = line.split()
        if len(f) >= 3 and f[0].startswith(".") and f[1].isdigit():
            sizes[f[0]] = (int(f[1]), int(f[2]))
    return sizes


def rodata_bytes(elf):
    return subprocess.run(
        ["arm-none-eabi-objcopy", "-O", "binary", "--only-section=.rodata", elf, "/dev/stdout"],
        check=True, capture_output=True,
    ).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("elf")
    ap.add_argument("--embed", action="append", default=[], metavar="NAME=FILE",
                    help="a file embedded with include_bytes!, found in .rodata")
    ap.add_argument("--limit", type=int, help="fail when flash is over this many bytes")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()

    secs = sections(args.elf)
    text = secs.get(".text", (0, 0))[0]
    rodata, rodata_addr = secs.get(".rodata", (0, 0))
    data = secs.get(".data", (0, 0))[0]
    vectors = secs.get(".vector_table", (0, 0))[0]
    flash = vectors + text + rodata + data

    order = [p for p, _ in PARTS] + [OUTLINED, OTHER]
    rows = {p: [0, 0] for p in order}
    named_rodata = 0
    for line in run("arm-none-eabi-nm", "-S", "--size-sort", "-C", args.elf).splitlines():
        f = line.split(" ", 3)
        if len(f) < 4:
            continue
        addr, size, kind, name = int(f[0], 16), int(f[1], 16), f[2], f[3]
        if kind in "tT":
            rows.setdefault(part_of(name), [0, 0])[0] += size
        elif kind in "rR" and rodata_addr <= addr < rodata_addr + rodata:
            part = part_of(name)
            if part == UNNAMED:
                continue  # counted with the rest of the unnamed constants below
            rows.setdefault(part, [0, 0])[1] += size
            named_rodata += size

    blob = rodata_bytes(args.elf)
    embedded = 0
    for spec in args.embed:
        name, _, path = spec.partition("=")
        with open(path, "rb") as fh:
            want = fh.read()
        if blob.find(want) < 0:
            print(f"flash.py: {path} is not embedded in {args.elf}", file=sys.stderr)
            sys.exit(1)
        rows[EMBEDDED + name] = [0, len(want)]
        order.append(EMBEDDED + name)
        embedded += len(want)
    rows[UNNAMED] = [0, rodata - named_rodata - embedded]
    order.append(UNNAMED)
    # Functions nm gives no size (alignment padding, veneers) and the vector table.
    named_text = sum(r[0] for r in rows.values())
    rows["vector table, padding, .data"] = [vectors + text - named_text, data]
    order.append("vector table, padding, .data")

    if args.markdown:
        print("| part | .text | .rodata | total |")
        print("|---|---:|---:|---:|")
        for p in order:
            t, r = rows[p]
            if t or r:
                print(f"| {p} | {t:,} | {r:,} | {t + r:,} |".replace(",", " "))
        print(f"| **flash** | {vectors + text:,} | {rodata + data:,} | **{flash:,}** |".replace(",", " "))
    else:
        print(f"{'part':<52} {'.text':>8} {'.rodata':>8} {'total':>8}")
        for p in order:
            t, r = rows[p]
            if t or r:
                print(f"{p:<52} {t:>8} {r:>8} {t + r:>8}")
        print(f"{'flash (.vector_table + .text + .rodata + .data)':<52} {vectors + text:>8} "
              f"{rodata + data:>8} {flash:>8}")
    if args.limit is not None:
        verdict = "within" if flash <= args.limit else "OVER"
        print(f"flash: {flash} bytes, {verdict} the limit of {args.limit} bytes ({args.limit // 1024} KiB)")
        if flash > args.limit:
            sys.exit(1)


if __name__ == "__main__":
    main()
