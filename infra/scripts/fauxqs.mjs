// Starts the fauxqs SQS API server (npm package fauxqs@1.9.2) for local
// development and tests, listening on loopback only.
//
// fauxqs's own CLI always listens on 0.0.0.0 and names queues
// http://sqs.<region>.localhost:<port>/..., so this launcher builds the app
// itself: it listens on FAUXQS_LISTEN_HOST (127.0.0.1) and FAUXQS_LISTEN_PORT
// (0 = a free port chosen by the kernel, so no other process can take it
// between choosing and binding), and gives queues URLs under the address the
// client used (http://127.0.0.1:<port>/000000000000/<name>), i.e. under
// SQS_ENDPOINT. It writes its pid to FAUXQS_PID_FILE at start and, once
// listening, the port to FAUXQS_PORT_FILE.
//
// Usage: FAUXQS_PREFIX=.local/fauxqs FAUXQS_PID_FILE=.local/fauxqs.pid \
//   FAUXQS_PORT_FILE=.local/fauxqs.port node infra/scripts/fauxqs.mjs
// It is started and stopped by infra/scripts/services.sh.

import { writeFileSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const prefix = resolve(process.env.FAUXQS_PREFIX ?? ".local/fauxqs");
const dist = join(prefix, "node_modules", "fauxqs", "dist");
const host = process.env.FAUXQS_LISTEN_HOST ?? "127.0.0.1";
const port = Number.parseInt(process.env.FAUXQS_LISTEN_PORT ?? "0", 10);
const portFile = process.env.FAUXQS_PORT_FILE;
const pidFile = process.env.FAUXQS_PID_FILE;

// Write then rename, so a reader never sees a half-written file.
function writeAtomic(path, text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

if (pidFile) {
  writeAtomic(pidFile, `${process.pid}\n`);
}

const { buildApp } = await import(pathToFileURL(join(dist, "app.js")).href);
const { SqsStore } = await import(pathToFileURL(join(dist, "sqs", "sqsStore.js")).href);

const sqsStore = new SqsStore();
// An empty host makes fauxqs build queue URLs from the request's Host header.
sqsStore.host = "";

const app = buildApp({
  logger: process.env.FAUXQS_LOGGER !== "false",
  defaultRegion: process.env.AWS_REGION ?? "us-east-1",
  stores: { sqsStore },
});

const address = await app.listen({ host, port });
const actual = new URL(address).port;
if (portFile) {
  writeAtomic(portFile, `${actual}\n`);
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    app.close().finally(() => process.exit(0));
  });
}
