#!/usr/bin/env python3
"""Regenerate country_zones.tsv from the IANA tz database.

    python3 data/zones/generate_country_zones.py [ZONEINFO_DIR] > data/zones/country_zones.tsv

ZONEINFO_DIR defaults to /usr/share/zoneinfo and must hold zone.tab and
iso3166.tab (Debian/Ubuntu package `tzdata`). Use the tzdata release that
matches the `chrono-tz` crate in Cargo.lock (its tz/NEWS names the release), so
every name written here parses as a chrono-tz `Tz`; the Rust unit tests check
that.

For each ISO 3166 country in zone.tab the zones are grouped by clock: two
zones are "the same clock" when their UTC offsets agree at every instant from
CLOCK_FROM to CLOCK_UNTIL (the Rust side, src/domain/zones/clock.rs, uses the
same span and the same definition). One representative per group is written in
the `zones` column; the other members, plus legacy link names (US/Eastern,
Asia/Calcutta, ...) that point at a country zone, go in the `also` column so a
campaign zone spelled any of those ways is recognised as "in the country".
"""

import os
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

CLOCK_FROM = datetime(2025, 1, 1, tzinfo=timezone.utc)
CLOCK_UNTIL = datetime(2035, 1, 1, tzinfo=timezone.utc)

# Within a group of same-clock zones, the name an operator would expect; groups
# without a preferred member take the first zone in zone.tab order (zone.tab
# lists each country's most populous zone first).
PREFERRED = {
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "America/Toronto", "America/Winnipeg", "America/Edmonton", "America/Vancouver",
    "America/Halifax", "America/Regina", "America/Whitehorse", "America/Sao_Paulo", "America/Manaus",
    "America/Mexico_City", "America/Buenos_Aires", "America/Argentina/Buenos_Aires", "Australia/Sydney",
    "Australia/Brisbane", "Australia/Adelaide", "Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk",
    "Asia/Krasnoyarsk", "Asia/Vladivostok", "Asia/Almaty", "Asia/Tashkent", "Asia/Kuala_Lumpur",
    "Europe/Berlin", "Asia/Jakarta", "Pacific/Auckland", "Asia/Nicosia", "Asia/Ulaanbaatar", "Europe/Kyiv",
    "Pacific/Majuro", "Asia/Gaza", "Europe/Madrid", "Europe/Lisbon", "America/Santiago", "Europe/Samara",
    "Asia/Yakutsk", "America/Rio_Branco",
}

# Codes ITU assigns to places that zone.tab does not list as a country.
EXTRA = [
    # Kosovo (+383): user-assigned ISO code XK, not in tzdata; it keeps Belgrade time.
    ("XK", "Kosovo", ["Europe/Belgrade"]),
]


def clock(name):
    """(offset at CLOCK_FROM, [(instant, new offset), ...]) found by daily steps
    and bisection to the second."""
    tz = ZoneInfo(name)

    def off(t):
        return int(t.astimezone(tz).utcoffset().total_seconds())

    t, first = CLOCK_FROM, off(CLOCK_FROM)
    cur, changes = first, []
    while t < CLOCK_UNTIL:
        nxt = min(t + timedelta(days=1), CLOCK_UNTIL)
        o = off(nxt)
        if o != cur:
            lo, hi = t, nxt
            while (hi - lo) > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    break
                if off(mid) == cur:
                    lo = mid
                else:
                    hi = mid
            changes.append((int(hi.timestamp()), o))
            cur = o
        t = nxt
    return (first, tuple(changes))


def read_tab(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            yield line.rstrip("\n").split("\t")


def links(root, targets):
    """Names under root that are symlinks resolving to one of `targets`."""
    real = {os.path.realpath(os.path.join(root, t)): t for t in targets}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.split(os.sep)[0] in ("posix", "right"):
            dirnames[:] = []
            continue
        for fn in filenames:
            full = os.path.join(dirpath, fn)
            name = os.path.relpath(full, root)
            if name in targets or "." in fn or not fn[0].isupper():
                continue
            target = real.get(os.path.realpath(full))
            if target:
                out.setdefault(target, []).append(name)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/zoneinfo"
    names = {row[0]: row[1] for row in read_tab(os.path.join(root, "iso3166.tab"))}
    by_country = {}
    listed = set()
    for row in read_tab(os.path.join(root, "zone.tab")):
        by_country.setdefault(row[0], []).append(row[2])
        listed.add(row[2])
    aliases = links(root, listed)
    version = "unknown release"
    if os.path.exists(os.path.join(root, "tzdata.zi")):
        with open(os.path.join(root, "tzdata.zi"), encoding="utf-8") as f:
            version = f.readline().strip().removeprefix("# version ")
    print("# ISO 3166 country -> time zones, generated by data/zones/generate_country_zones.py")
    print(f"# from tzdata {version} (zone.tab, iso3166.tab); do not edit by hand, rerun the script.")
    print(f"# zones: one representative per distinct clock ({CLOCK_FROM:%Y}..{CLOCK_UNTIL:%Y}), comma-separated;")
    print("#        a country with one zone is single-zone, with several it is multi-zone.")
    print("# also:  the country's other zone.tab zones and legacy link names, all on one of those clocks.")
    print("# country\tname\tzones\talso")
    rows = []
    for cc, zones in by_country.items():
        groups = []  # [(clock, [names])]
        for z in zones:
            c = clock(z)
            for g in groups:
                if g[0] == c:
                    g[1].append(z)
                    break
            else:
                groups.append((c, [z]))
        reps, also = [], []
        for _, members in groups:
            rep = next((m for m in members if m in PREFERRED), members[0])
            reps.append(rep)
            also.extend(m for m in members if m != rep)
        for z in zones:
            also.extend(a for a in sorted(aliases.get(z, [])) if a not in listed)
        rows.append((cc, names.get(cc, cc), reps, also))
    for cc, name, zones in EXTRA:
        rows.append((cc, name, zones, []))
    for cc, name, reps, also in sorted(rows):
        print(f"{cc}\t{name}\t{','.join(reps)}\t{','.join(also)}")


if __name__ == "__main__":
    main()
