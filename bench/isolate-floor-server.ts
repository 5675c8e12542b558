// The floor of an isolate cold start on this machine: one node:http process that runs isolated-vm itself,
// with nothing of Strato's (no API key, no store, no scheduler, no second process, no guest runtime).
// bench/isolate-cold.ts starts it (with --no-node-snapshot, which isolated-vm needs). What it answers:
//   POST /warm   calls the handler of one resident isolate (a warm invoke)
//   POST /cold   takes a ready isolate with a context ("stem cell"), compiles a new function into it, loads
//                it and calls it: what a stem-cell cold start must do at least
// FLOOR_STEM_CELLS (default 500) isolates are made before it listens, so no refill runs while it is measured.
import http from 'node:http';
import ivm from 'isolated-vm';

interface Cell {
  isolate: ivm.Isolate;
  context: ivm.Context;
  load: ivm.Reference<(source: string) => void>;
  call: ivm.Reference<(eventJson: string) => string>;
}

const CELL_SCRIPT = `
globalThis.__load = (source) => {
  const module = { exports: {} };
  new Function('module', 'exports', source)(module, module.exports);
  globalThis.__handler = module.exports.handler;
};
globalThis.__call = (eventJson) => JSON.stringify(globalThis.__handler(JSON.parse(eventJson)));
`;

function makeCell(): Cell {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = isolate.createContextSync();
  context.evalSync(CELL_SCRIPT);
  return {
    isolate,
    context,
    load: context.global.getSync('__load', { reference: true }) as Cell['load'],
    call: context.global.getSync('__call', { reference: true }) as Cell['call'],
  };
}

let loaded = 0;
function loadFunction(cell: Cell): void {
  // A new source each time: nothing is cached between cells anyway, but it keeps the work honest.
  loaded++;
  cell.load.applySync(undefined, [
    `exports.handler = (event) => ({ message: 'Hello, ' + event.name + '!', n: ${loaded} });`,
  ]);
}

const cells: Cell[] = [];
for (let i = 0; i < Number(process.env['FLOOR_STEM_CELLS'] ?? 500); i++) cells.push(makeCell());
const resident = makeCell();
loadFunction(resident);

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const eventJson = Buffer.concat(chunks).toString('utf8');
    let cell = resident;
    if (req.url === '/cold') {
      const taken = cells.pop();
      if (taken === undefined) {
        res.writeHead(503).end('no stem cell left');
        return;
      }
      cell = taken;
      loadFunction(cell);
    }
    const body = cell.call.applySync(undefined, [eventJson], { timeout: 1000 });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    // Disposed after the reply, off the measured path, as Strato disposes instances.
    if (cell !== resident) setTimeout(() => cell.isolate.dispose(), 0);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address !== null)
    process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
