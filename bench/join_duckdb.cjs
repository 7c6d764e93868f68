// DuckDB side of bench/join.sh: imports the two TSVs into an in-memory DuckDB (all columns text, as
// Sawmill and the sqlite run see them) and writes each join to a TSV, timing import and joins apart.
//
// Usage: node bench/join_duckdb.cjs PREFIX EVENTS USERS OUT_PREFIX THREADS TYPE...
//   PREFIX: the npm prefix where @duckdb/node-api is installed (PREFIX/node_modules/...).
//   Writes OUT_PREFIX.TYPE.tsv (key, events' other columns, users' other columns; NULL as empty)
//   and prints one line: duckdb version=V import_s=S TYPE_s=S TYPE_rows=N ...
'use strict';
const path = require('path');

async function main() {
  const [prefix, events, users, outPrefix, threads, ...types] = process.argv.slice(2);
  if (!types.length) throw new Error('usage: join_duckdb.cjs PREFIX EVENTS USERS OUT_PREFIX THREADS TYPE...');
  const { DuckDBInstance } = require(path.join(prefix, 'node_modules', '@duckdb', 'node-api'));
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const db = await instance.connect();
  const sqlString = (s) => "'" + s.replace(/'/g, "''") + "'";
  // quote='' and escape='': the TSVs are plain, as Sawmill reads them (no CSV quoting).
  const readTsv = (file, cols) =>
    `read_csv(${sqlString(file)}, delim='\t', header=false, quote='', escape='', ` +
    `columns={${cols.map((c) => `'${c}': 'VARCHAR'`).join(', ')}})`;
  const version = (await db.runAndReadAll('SELECT version()')).getRows()[0][0];
  let t0 = performance.now();
  await db.run(`CREATE TABLE events AS SELECT * FROM ${readTsv(events, ['user_id', 'ts', 'page'])}`);
  await db.run(`CREATE TABLE users AS SELECT * FROM ${readTsv(users, ['user_id', 'country', 'name'])}`);
  const fields = [`version=${version}`, `import_s=${((performance.now() - t0) / 1000).toFixed(3)}`];
  for (const type of types) {
    const join = { inner: 'JOIN', left: 'LEFT JOIN', right: 'RIGHT JOIN', full: 'FULL JOIN' }[type];
    if (!join) throw new Error(`unknown join type ${type}`);
    const out = `${outPrefix}.${type}.tsv`;
    t0 = performance.now();
    const r = await db.runAndReadAll(
      `COPY (SELECT e.user_id, e.ts, e.page, u.country, u.name FROM events e ${join} users u ` +
        `ON e.user_id = u.user_id) TO ${sqlString(out)} (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')`);
    fields.push(`${type}_s=${((performance.now() - t0) / 1000).toFixed(3)}`);
    fields.push(`${type}_rows=${r.getRows()[0]?.[0] ?? '?'}`);
  }
  console.log('duckdb ' + fields.join(' '));
}

main().catch((e) => {
  console.error(`join_duckdb: ${e.message}`);
  process.exit(1);
});
