// Strato's runtime client for Lambda's managed Node.js runtimes (nodejs20.x, nodejs22.x, nodejs24.x). Node
// runs this file directly inside the process tier's sandbox (bound read-only at /var/runtime), so it is
// plain CommonJS with Node built-ins only. It behaves like AWS's runtime interface client: load the handler
// named by _HANDLER from LAMBDA_TASK_ROOT, then poll the Runtime API at AWS_LAMBDA_RUNTIME_API forever.
'use strict';

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { installEgressFetch } = require('./egress-fetch.cjs');

const apiBase = '/2018-06-01/runtime';
// One keep-alive connection for the long poll and the answers, as AWS's client does; idle sockets of an
// Agent are unref'd, so they never keep a callback handler's event loop from emptying.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
// Read from the environment once it is the function's (see start()).
let apiHost;
let apiPort;
let taskRoot;
let handlerSetting;

/** The invocation in flight, so a crash outside the handler's promise can still be reported for it. */
let current;

start().catch((error) => {
  // Only the Runtime API failing gets here: nothing to report to, so say it and let the tier see the exit.
  console.error('strato-node-runtime: fatal:', error);
  process.exit(1);
});

async function start() {
  // A pooled Node is started before it has a function (see the process tier's sandbox-pool.ts). It opens its
  // connection to the Runtime API forwarder (fixed inside every sandbox) with a request to no route, which
  // also warms the HTTP client, then blocks until the sandbox's root shell, having bound the function's code
  // at the task root, writes the function's environment as one JSON line on this descriptor.
  if (process.env.STRATO_ASSIGNMENT_FD !== undefined) {
    [apiHost, apiPort] = ['127.0.0.1', 9001];
    await request('GET', '/2018-06-01/strato/warm-up').catch(() => undefined);
    awaitAssignment(Number(process.env.STRATO_ASSIGNMENT_FD));
  }
  [apiHost, apiPort] = splitHostPort(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
  taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  handlerSetting = process.env._HANDLER || '';
  // Only a function with egress patterns has a proxy; its fetch goes through it (egress-fetch.cjs).
  installEgressFetch(process.env);
  await main();
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(taskRoot, handlerSetting);
  } catch (error) {
    await post(`${apiBase}/init/error`, errorBody(error), errorHeaders(error));
    // AWS's client exits after reporting an init error; the service starts a new environment next time.
    process.exit(129);
  }
  process.on('uncaughtException', (error) => crash(error, 'Runtime.UncaughtException'));
  process.on('unhandledRejection', (reason) => crash(reason, 'Runtime.UnhandledPromiseRejection'));
  for (;;) {
    const next = await request('GET', `${apiBase}/invocation/next`);
    if (next.status !== 200) throw new Error(`/invocation/next answered ${next.status}: ${next.body}`);
    await invoke(handler, next);
  }
}

async function invoke(handler, next) {
  const headers = next.headers;
  const requestId = headers['lambda-runtime-aws-request-id'];
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  if (headers['lambda-runtime-trace-id'] !== undefined) {
    process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  } else delete process.env._X_AMZN_TRACE_ID;
  // OpenTelemetry's environment carrier for W3C trace context: an SDK in the function reads it.
  if (headers['lambda-runtime-traceparent'] !== undefined) {
    process.env.TRACEPARENT = headers['lambda-runtime-traceparent'];
  } else delete process.env.TRACEPARENT;
  const settled = deferred();
  current = { requestId, settled };
  const context = makeContext(requestId, deadline, headers, settled);
  let outcome;
  try {
    const event = JSON.parse(next.body);
    const callback = (error, result) => settled.resolve(error ? { error } : { result, viaCallback: true });
    const returned = handler(event, context, callback);
    if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
      returned.then(
        (result) => settled.resolve({ result }),
        (error) => settled.resolve({ error: error === undefined ? new Error('undefined') : error }),
      );
    } else if (handler.length < 3) {
      // A non-async handler that takes no callback is done when it returns, as on AWS.
      settled.resolve({ result: returned });
    }
    outcome = await settled.promise;
  } catch (error) {
    outcome = { error };
  }
  // Callback style waits for the event loop to empty (timers, sockets the handler opened) unless the handler
  // set callbackWaitsForEmptyEventLoop = false; 'beforeExit' is Node's signal that nothing else is pending.
  if (outcome.viaCallback && context.callbackWaitsForEmptyEventLoop) {
    await new Promise((resolve) => process.once('beforeExit', resolve));
  }
  current = undefined;
  if ('error' in outcome) {
    await post(
      `${apiBase}/invocation/${encodeURIComponent(requestId)}/error`,
      errorBody(outcome.error),
      errorHeaders(outcome.error),
    );
    return;
  }
  let body;
  try {
    body = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    if (body === undefined) body = 'null';
  } catch (error) {
    const serialization = { name: 'Runtime.SerializationError', message: error.message, stack: error.stack };
    await post(
      `${apiBase}/invocation/${encodeURIComponent(requestId)}/error`,
      errorBody(serialization),
      errorHeaders(serialization),
    );
    return;
  }
  await post(`${apiBase}/invocation/${encodeURIComponent(requestId)}/response`, body);
}

function makeContext(requestId, deadline, headers, settled) {
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // The legacy context methods AWS still provides.
    done: (error, result) => settled.resolve(error ? { error } : { result }),
    succeed: (result) => settled.resolve({ result }),
    fail: (error) => settled.resolve({ error: error === undefined ? new Error('handled') : error }),
  };
  const clientContext = parseJsonHeader(headers['lambda-runtime-client-context']);
  if (clientContext !== undefined) context.clientContext = clientContext;
  const identity = parseJsonHeader(headers['lambda-runtime-cognito-identity']);
  if (identity !== undefined) context.identity = identity;
  return context;
}

/** Loads the module and finds the export `_HANDLER` names; throws errors typed as AWS's client types them. */
async function loadHandler(root, setting) {
  const slash = setting.lastIndexOf('/');
  const last = setting.slice(slash + 1);
  const dot = last.indexOf('.');
  if (dot <= 0 || dot === last.length - 1) {
    throw typedError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  const modulePath = path.join(root, setting.slice(0, slash + 1), last.slice(0, dot));
  const exportPath = last.slice(dot + 1).split('.');
  const moduleName = setting.slice(0, slash + 1) + last.slice(0, dot);
  const loaded = await loadModule(modulePath, moduleName);
  let target = loaded;
  for (const name of exportPath) {
    target = target === undefined || target === null ? undefined : target[name];
  }
  if (target === undefined) {
    throw typedError('Runtime.HandlerNotFound', `${setting} is undefined or not exported`);
  }
  if (typeof target !== 'function') {
    throw typedError('Runtime.HandlerNotFound', `${setting} is not a function`);
  }
  return target;
}

async function loadModule(modulePath, moduleName) {
  const file = ['.js', '.mjs', '.cjs'].map((ext) => modulePath + ext).find(isFile);
  if (file === undefined) {
    throw typedError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  }
  try {
    if (file.endsWith('.mjs') || (file.endsWith('.js') && packageType(path.dirname(file)) === 'module')) {
      return await import(pathToFileURL(file).href);
    }
    try {
      return require(file);
    } catch (error) {
      // ESM syntax in a .js without "type": "module" nearby: Node itself would refuse; AWS falls back too.
      if (error && error.code === 'ERR_REQUIRE_ESM') return await import(pathToFileURL(file).href);
      throw error;
    }
  } catch (error) {
    if (error instanceof SyntaxError)
      throw typedError('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`, error.stack);
    if (error && error.code === 'MODULE_NOT_FOUND')
      throw typedError('Runtime.ImportModuleError', `Error: ${error.message}`, error.stack);
    if (error && error.code === 'ERR_MODULE_NOT_FOUND')
      throw typedError('Runtime.ImportModuleError', `Error: ${error.message}`, error.stack);
    throw error;
  }
}

/** The nearest package.json's "type", as Node decides how to load a .js file. */
function packageType(dir) {
  for (;;) {
    let text;
    try {
      text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        return JSON.parse(text).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    const parent = path.dirname(dir);
    // Never above the task root: outside it lie the runtime's and the system's files, not the function's.
    if (parent === dir || !parent.startsWith(taskRoot)) return 'commonjs';
    dir = parent;
  }
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Waits (synchronously: there is nothing else to do) for the assignment, then becomes the function's process:
 * exactly its environment, its task root as the working directory. The cwd was taken before the code was
 * bound over the task root, so it must be entered again to see the mount. Variables Node reads only at start
 * (NODE_OPTIONS and the like) cannot apply here; the tier does not pool functions that set them.
 */
function awaitAssignment(fd) {
  const chunk = Buffer.alloc(64 * 1024);
  const parts = [];
  // Tells the tier that Node is up and waiting (the sandbox's stdout is the tier's pipe until assignment).
  fs.writeSync(1, 'strato-pool-ready\n');
  for (;;) {
    const read = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (read === 0) process.exit(0); // the sandbox was discarded before it got a function
    parts.push(Buffer.from(chunk.subarray(0, read)));
    if (chunk[read - 1] === 0x0a) break;
  }
  fs.closeSync(fd);
  const assignment = JSON.parse(Buffer.concat(parts).toString('utf8'));
  for (const name of Object.keys(process.env)) delete process.env[name];
  // TZ takes effect when assigned through process.env (Node resets its time zone cache on that write).
  Object.assign(process.env, assignment.env);
  // NODE_PATH was read at start; make require() see the function's.
  require('node:module')._initPaths();
  process.chdir(assignment.cwd);
}

function crash(error, fallbackType) {
  const body = errorBody(error, fallbackType);
  const report = current
    ? post(
        `${apiBase}/invocation/${encodeURIComponent(current.requestId)}/error`,
        body,
        errorHeaders(error, fallbackType),
      )
    : Promise.resolve();
  console.error(`${fallbackType}:`, error);
  // As on AWS: an uncaught error ends the execution environment once it is reported.
  report.finally(() => process.exit(129));
}

function typedError(type, message, stack) {
  const error = new Error(message);
  error.name = type;
  if (stack !== undefined) error.stack = stack;
  return error;
}

function errorBody(error, fallbackType) {
  if (error instanceof Error || (error && typeof error === 'object' && 'message' in error)) {
    const trace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
    // `trace` is what AWS's Node client posts; `stackTrace` is the name Lambda's own error responses use.
    return JSON.stringify({
      errorType: error.name || fallbackType || 'Error',
      errorMessage: String(error.message),
      trace,
      stackTrace: trace,
    });
  }
  return JSON.stringify({
    errorType: fallbackType || typeof error,
    errorMessage: typeof error === 'string' ? error : safeStringify(error),
    trace: [],
  });
}

function errorHeaders(error, fallbackType) {
  const type = error instanceof Error ? error.name : fallbackType || typeof error;
  // A header value must be latin-1 without control characters.
  return { 'lambda-runtime-function-error-type': String(type).replace(/[^\x20-\x7e]/g, '?') };
}

async function post(url, body, headers = {}) {
  const response = await request('POST', url, body, headers);
  if (response.status >= 300) {
    console.error(`strato-node-runtime: ${url} answered ${response.status}: ${response.body}`);
  }
}

function request(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: apiHost,
        port: apiPort,
        path: url,
        method,
        agent,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function deferred() {
  let resolve;
  const promise = new Promise((settle) => {
    let done = false;
    resolve = (value) => {
      // The first answer wins, as with AWS (a callback after the promise settled is ignored).
      if (!done) {
        done = true;
        settle(value);
      }
    };
  });
  return { promise, resolve };
}

function parseJsonHeader(value) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function safeStringify(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function splitHostPort(address) {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}
