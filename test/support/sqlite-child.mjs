// A second process on a SqliteStore file, for test/sqlite-store.test.ts. Runs the built store
// (npm test builds first). Reads one JSON command a line on stdin, answers one JSON line each:
//   {"op":"replace","collection","key","value","etag"} -> {"ok":true,"etag"} | {"ok":false,"error":name}
//   {"op":"insert","collection","key","value"}          -> the same
//   {"op":"increment","collection","key","times"}       -> {"ok":true,"conflicts"}: read-modify-write
//                                                          with a retry on every StoreConflictError
// It prints {"ready":true} once the store is open.
import { createInterface } from 'node:readline';
import { SqliteStore } from '../../dist/src/store/sqlite-store.js';

const store = new SqliteStore(process.argv[2]);
await store.ready();
const answer = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
answer({ ready: true });

for await (const line of createInterface({ input: process.stdin })) {
  const c = JSON.parse(line);
  try {
    if (c.op === 'insert') answer({ ok: true, etag: await store.insert(c.collection, c.key, c.value) });
    else if (c.op === 'replace') answer({ ok: true, etag: await store.replace(c.collection, c.key, c.value, c.etag) });
    else if (c.op === 'increment') {
      let conflicts = 0;
      for (let i = 0; i < c.times; ) {
        const current = await store.get(c.collection, c.key);
        try {
          await store.replace(c.collection, c.key, { n: current.value.n + 1 }, current.etag);
          i++;
        } catch (err) {
          if (err.name !== 'StoreConflictError') throw err;
          conflicts++;
        }
      }
      answer({ ok: true, conflicts });
    } else answer({ ok: false, error: `unknown op ${c.op}` });
  } catch (err) {
    answer({ ok: false, error: err.name, message: err.message });
  }
}
await store.close();
