// DuckDB side of bench/local.sh's wordcount: reads the text into an in-memory DuckDB, splits it
// into words as Sawmill's wordcount does (maximal runs of bytes other than space, tab, CR and LF),
// counts each distinct word and writes the (word, count) pairs to a TSV.
//
// Usage: node bench/wordcount_duckdb.cjs PREFIX TEXT OUT THREADS
//   PREFIX: the npm prefix where @duckdb/node-api is installed (PREFIX/node_modules/...).
//   Writes OUT (word TAB count, a line per distinct word, in no order) and prints one line:
//   duckdb version=V distinct=N seconds=S (S: the query alone; bench/local.sh times the process).
// The lines are read with read_csv as one VARCHAR column, every guess of its sniffer pinned:
// delimiter \x01 (a byte text does not have; a line with one would be cut there, and the
// script's check of the counts would say so), no quote or escape character (a " is a word's
// byte), no header, no comment, no skipped rows, LF newlines. strict_mode=false lets a CR stand
// anywhere in a line (with it on, a CR that is not part of every line's CRLF is an error); the
// split treats CRs and tabs as spaces. A line may be at most read_csv's max_line_size (2 MB) and
// must be UTF-8, as VARCHAR is. SQL strings have no backslash escapes: the tabs, CRs and \x01
// below are the bytes themselves, put there by the JavaScript strings (new_line alone takes the
// two characters \n, which read_csv spells LF with).
'use strict';
const path = require('path');

async function main() {
  const [prefix, text, out, threads] = process.argv.slice(2);
  if (!threads) throw new Error('usage: wordcount_duckdb.cjs PREFIX TEXT OUT THREADS');
  const { DuckDBInstance } = require(path.join(prefix, 'node_modules', '@duckdb', 'node-api'));
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  await db.run(`SET threads = ${Number(threads)}`);
  const sqlString = (s) => "'" + s.replace(/'/g, "''") + "'";
  const lines =
    `read_csv(${sqlString(text)}, columns={'line': 'VARCHAR'}, header=false, auto_detect=false, ` +
    `delim='\x01', quote='', escape='', comment='', skip=0, new_line='\\n', strict_mode=false)`;
  // string_split at spaces is ~2.5x faster than a regexp split; the rare line with a tab or a CR
  // has them turned into spaces first (translate on every line costs ~2x). Runs of separators
  // give empty strings, dropped.
  const words =
    `SELECT unnest(string_split(CASE WHEN contains(line, '\t') OR contains(line, '\r') ` +
    `THEN translate(line, '\t\r', '  ') ELSE line END, ' ')) AS word FROM ${lines}`;
  const version = (await db.runAndReadAll('SELECT version()')).getRows()[0][0];
  const t0 = performance.now();
  const r = await db.runAndReadAll(
    `COPY (SELECT word, count(*) FROM (${words}) WHERE word <> '' GROUP BY word) ` +
      `TO ${sqlString(out)} (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')`);
  const seconds = ((performance.now() - t0) / 1000).toFixed(3);
  console.log(`duckdb version=${version} distinct=${r.getRows()[0]?.[0] ?? '?'} seconds=${seconds}`);
}

main().catch((e) => {
  console.error(`wordcount_duckdb: ${e.message}`);
  process.exit(1);
});
