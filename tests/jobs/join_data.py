"""Seeded tables for tests/jobs/join_test.py: TSV rows of bytes with many-to-many keys, keys on one
side only, the empty key, spaces, 0xFF and other non-ASCII bytes, and backslashes (which `sawmill
cat` escapes). No TAB, LF, CR, NUL or '"' in any field: TSV cannot hold the first ones, and
sqlite's `.import` reads '"' as a quote.
"""
import random

# Keys both sides have, with the awkward ones among them.
SPECIAL_SHARED = [b"", b"with space", b" lead", b"\xff", b"caf\xc3\xa9", b"\x80\x81\xfe", b"back\\slash", b"x\\t"]
SPECIAL_LEFT_ONLY = [b"\xffz", b"left only"]
SPECIAL_RIGHT_ONLY = [b"trail ", b"\xc3\xa9t\xc3\xa9"]
# Bytes of generated fields: ASCII words plus non-ASCII, space and backslash.
_PIECES = [bytes([c]) for c in b"abcdefghijklmnopqrstuvwxyz0123456789"] + [b" ", b"\\", b"\xff", b"\xc3\xa9", b"\x80",
                                                                            b"'", b",", b"-"]


class Table:
    """`rows` are lists of `ncols` byte strings; column `key` (1-based) is the join key."""

    def __init__(self, name, ncols, key, rows):
        self.name, self.ncols, self.key, self.rows = name, ncols, key, rows

    def tsv(self):
        return b"".join(b"\t".join(r) + b"\n" for r in self.rows)

    def split(self, row):
        """(key, the other columns in order) of a row."""
        return row[self.key - 1], row[:self.key - 1] + row[self.key:]


def _field(rng):
    if rng.random() < 0.1:
        return b""
    return b"".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 8)))


def _key(rng, prefix):
    # Digits keep generated keys distinct from each other and from the special ones.
    return prefix + b"%04d" % rng.randrange(10000) + rng.choice([b"", b" x", b"\xff", b"\xc3\xa9"])


class Keys:
    def __init__(self, rng, shared=150, left_only=50, right_only=50):
        self.shared = sorted(set(_key(rng, b"s") for _ in range(shared))) + SPECIAL_SHARED
        self.left_only = sorted(set(_key(rng, b"l") for _ in range(left_only))) + SPECIAL_LEFT_ONLY
        self.right_only = sorted(set(_key(rng, b"r") for _ in range(right_only))) + SPECIAL_RIGHT_ONLY


def make_table(name, seed, keys, side, nrows, ncols, key_col):
    """A table whose keys come from keys.shared (70%) and the side's own keys (30%); the empty key
    gets an extra 3% of the rows so that it is a many-to-many key on both sides."""
    rng = random.Random(seed)
    own = keys.left_only if side == "left" else keys.right_only
    rows = []
    for _ in range(nrows):
        u = rng.random()
        k = b"" if u < 0.03 else rng.choice(keys.shared) if u < 0.73 else rng.choice(own)
        row = [_field(rng) for _ in range(ncols - 1)]
        row.insert(key_col - 1, k)
        rows.append(row)
    return Table(name, ncols, key_col, rows)


def make_tables(seed=6):
    """The tables of the test, by name: l3 (3 columns, key 1), l3k2 (key 2), r4 (4 columns, key 1),
    r4k3 (key 3), r2 (2 columns), and the empty e3 / e4."""
    keys = Keys(random.Random(seed))
    t = [
        make_table("l3", seed + 1, keys, "left", 1200, 3, 1),
        make_table("l3k2", seed + 2, keys, "left", 900, 3, 2),
        make_table("r4", seed + 3, keys, "right", 800, 4, 1),
        make_table("r4k3", seed + 4, keys, "right", 700, 4, 3),
        make_table("r2", seed + 5, keys, "right", 800, 2, 1),
        Table("e3", 3, 1, []),
        Table("e4", 4, 1, []),
    ]
    return {x.name: x for x in t}
