"""`GET /v1/customers?q=` (`projections.customer_360.queries.search`) at a growing number of
customers: milliseconds per search, for rare, common, absent and short substrings.

For each size, on a fresh database: makes `customer_360` with the product's own schema
(`SCHEMA.create`), fills it with generated customers in SQL (names from 40 first and 60 last
names, an email each, external references `shop-NNNNNN`, zero to three of 12 tags), makes its
indexes as a rebuild does (`SCHEMA.index`) and analyzes it. Then, alternately, `--repeat`
times, runs each query of QUERIES as a role that sees personal data and as an analyst, and
prints the median (p50) and the 90th percentile in ms, and how many rows matched the first page.
With `--cursor`, the second page of each query is timed too. It prints; it asserts nothing.

Run:  python bench/search.py [--sizes 10000 100000] [--repeat 30]
      [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
Old code: PYTHONPATH=/tmp/old python bench/search.py (the product's modules are imported from
the tree on PYTHONPATH first).
"""

import argparse
import statistics
import time
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from bench.commands import bench_database, percentile
from projections.customer_360.queries import search
from projections.customer_360.table import SCHEMA, TABLE

QUERIES = {
    "reference (1 row)": "004217",
    "name part (2 %)": "Quint",
    "tag part (11 %)": "news",
    "name part (5 %)": "son",
    "absent": "zqxj",
    "1 character (2 %)": "q",
    "2 characters (16 %)": "vi",
}
FIRST = ["Ada", "Alan", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Donald", "Frances", "John"]
FIRST += ["Margaret", "Niklaus", "Radia", "Tim", "Anita", "Bjarne", "Guido", "Hedy", "Ivan", "Jean"]
FIRST += [
    "Katherine",
    "Leslie",
    "Mary",
    "Nancy",
    "Ole",
    "Peter",
    "Robin",
    "Sophie",
    "Tony",
    "Ursula",
]
FIRST += [
    "Vint",
    "Whitfield",
    "Xavier",
    "Yukihiro",
    "Zuse",
    "Carol",
    "Dennis",
    "Elaine",
    "Fran",
    "Gene",
]
LAST = ["Johnson", "Anderson", "Lovelace", "Turing", "Hopper", "Torvalds", "Thompson", "Liskov"]
LAST += ["Dijkstra", "Knuth", "Allen", "Backus", "Hamilton", "Wirth", "Perlman", "Berners"]
LAST += ["Borg", "Stroustrup", "Rossum", "Lamarr", "Sutherland", "Sammet", "Switzer", "Lamport"]
LAST += ["Keller", "Lynch", "Dahl", "Naur", "Milner", "Jones", "Hoare", "Kay", "Engelbart"]
LAST += ["Cerf", "Diffie", "Hellman", "Rivest", "Shamir", "Adleman", "Ritchie", "Kernighan"]
LAST += ["Pike", "Wilkes", "Goldberg", "Bartik", "Holberton", "Quintana", "Meltzer", "Spence"]
LAST += ["Teitelbaum", "Wescoff", "Lichterman", "McNulty", "Ershov", "Matsumoto", "Stallman"]
LAST += ["Wozniak", "Jobs", "Gates", "Moore"]
TAGS = ["vip", "newsletter", "wholesale", "b2b", "churned", "beta"]
TAGS += ["eu", "us", "apac", "reseller", "partner", "trial"]

FILL = """
INSERT INTO {table} (customer_id, version, last_position, external_ref, name, email, phone,
    personal, profile, tags, consent, custom_fields, purchase_count, purchase_total,
    purchase_totals, feedback_count, rating_sum, interactions, registered_at, updated_at)
SELECT md5(n::text)::uuid, 1, n, format('shop-%%s', lpad(n::text, 6, '0')),
    first || ' ' || last, lower(first || '.' || last || n || '@example.com'), NULL,
    jsonb_build_object('name', first || ' ' || last), '{{}}', tags, '{{}}', '{{}}', 0, 0, '{{}}',
    0, 0, '{{}}', timestamptz '2024-01-01' + n * interval '1 minute',
    timestamptz '2024-01-01' + n * interval '1 minute'
FROM (
    SELECT n, (%(first)s::text[])[1 + n %% cardinality(%(first)s::text[])] AS first,
        (%(last)s::text[])[1 + abs(hashint4(n)) %% cardinality(%(last)s::text[])] AS last,
        ARRAY(SELECT DISTINCT (%(tags)s::text[])[1 + abs(hashint4(n * 4 + k)) %% cardinality(%(tags)s::text[])]
              FROM generate_series(1, n %% 4) AS k ORDER BY 1) AS tags
    FROM generate_series(0, %(size)s - 1) AS n
) AS generated
"""


def fill(conn: psycopg.Connection[Any], size: int) -> None:
    """customer_360 made as the product makes it, filled with `size` customers, indexed."""
    SCHEMA.create(conn, TABLE)
    conn.execute(
        FILL.format(table=TABLE), {"first": FIRST, "last": LAST, "tags": TAGS, "size": size}
    )
    SCHEMA.index(conn, TABLE)
    conn.execute(f"ANALYZE {TABLE}")
    conn.commit()


def timed(conn: psycopg.Connection[Any], q: str, personal: bool, cursor: bool) -> tuple[float, int]:
    """Milliseconds for one search (its second page with `cursor`), and the rows found."""
    after = search(conn, q=q, personal=personal).next_cursor if cursor else None
    start = time.perf_counter()
    page = search(conn, q=q, personal=personal, cursor=after)
    return (time.perf_counter() - start) * 1000, len(page.items)


def main() -> None:
    """Fills each size, times every query, prints one table per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cursor", action="store_true", help="time second pages too")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    console = Console(width=120)
    pages = (False, True) if args.cursor else (False,)
    for size in args.sizes:
        with bench_database(args.database_url) as url, psycopg.connect(url) as conn:
            fill(conn, size)
            cases = [(n, q, p, c) for n, q in QUERIES.items() for p in (True, False) for c in pages]
            times: dict[tuple[str, bool, bool], list[float]] = {
                (n, p, c): [] for n, _, p, c in cases
            }
            found: dict[tuple[str, bool, bool], int] = {}
            for _ in range(args.repeat):
                for name, q, personal, second in cases:
                    ms, rows = timed(conn, q, personal, second)
                    times[name, personal, second].append(ms)
                    found[name, personal, second] = rows
        table = Table(title=f"customer search, {size:,} customers (ms, {args.repeat} runs)")
        for column in ("query", "q", "role", "page", "rows", "p50 ms", "p90 ms"):
            table.add_column(column, justify="left" if column in ("query", "q") else "right")
        for name, q, personal, second in cases:
            runs = times[name, personal, second]
            table.add_row(
                name,
                q,
                "personal" if personal else "analyst",
                "2" if second else "1",
                str(found[name, personal, second]),
                f"{statistics.median(runs):.2f}",
                f"{percentile(runs, 90):.2f}",
            )
        console.print(table)


if __name__ == "__main__":
    main()
