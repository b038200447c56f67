// Starts dynalite (npm package dynalite@4.0.0, Apache-2.0), a DynamoDB API server on LevelDB, for local
// development and tests, in memory and on loopback only.
//
// It listens on DYNALITE_LISTEN_HOST (127.0.0.1) and DYNALITE_LISTEN_PORT (0 = a free port chosen by the
// kernel, so no other process can take it between choosing and binding). Tables become ACTIVE at once
// (createTableMs/deleteTableMs 0), so a test can create its own table and use it straight away. It writes
// its pid to DYNALITE_PID_FILE at start and, once listening, the port to DYNALITE_PORT_FILE.
//
// Usage: DYNALITE_PREFIX=.local/dynalite DYNALITE_PID_FILE=.local/dynalite.pid \
//   DYNALITE_PORT_FILE=.local/dynalite.port node infra/scripts/dynalite.mjs
// It is started and stopped by infra/scripts/services.sh.

import { writeFileSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const prefix = resolve(process.env.DYNALITE_PREFIX ?? ".local/dynalite");
const host = process.env.DYNALITE_LISTEN_HOST ?? "127.0.0.1";
const port = Number.parseInt(process.env.DYNALITE_LISTEN_PORT ?? "0", 10);
const portFile = process.env.DYNALITE_PORT_FILE;
const pidFile = process.env.DYNALITE_PID_FILE;

// Write then rename, so a reader never sees a half-written file.
function writeAtomic(path, text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

if (pidFile) {
  writeAtomic(pidFile, `${process.pid}\n`);
}

const require = createRequire(join(prefix, "package.json"));
const dynalite = require("dynalite");

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(port, host, () => {
  if (portFile) {
    writeAtomic(portFile, `${server.address().port}\n`);
  }
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
