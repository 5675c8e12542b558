import { deflateRawSync } from 'node:zlib';
import { zipOf } from '../../helpers/zip.js';

/**
 * The bad-input corpus: one row per hostile or malformed request against a public endpoint, with the status
 * and stable error code it must get. `{fn}` in a path is an existing isolate function that echoes its
 * event, `{fetch}` one with a `fetch` handler. `expectedCode` is our code from src/core/error-codes.ts in
 * `error.code`; for the Lambda API it is the `X-Amzn-ErrorType` Lambda sends; `null` is a bare reply of
 * Node's HTTP parser (no route ever ran). `sign: true` signs the request with SigV4 like the AWS SDK.
 *
 * Every row outside the Lambda API is sent with the admin key (`Authorization: Bearer`) unless it names
 * another `key` (a key of that scope, a revoked one, or `none`) or brings its own `authorization` header;
 * the Lambda API's rows are signed (SigV4) or not, never Bearer. So each row shows its protection holds for a caller who may do everything else.
 */
export interface BadInputCase {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer | (() => Promise<Buffer | string>);
  sign?: boolean;
  /** Which API key to send. @default 'admin' */
  key?: CorpusKey;
  expectedStatus: number;
  expectedCode: string | null;
}

export type CorpusKey = 'admin' | 'deploy' | 'invoke' | 'read' | 'revoked' | 'none';

/** A case sent byte by byte over a raw socket: what fetch cannot send (bad heads, slow clients). */
export interface RawCase {
  name: string;
  /** Strings are written, numbers are pauses in ms. */
  chunks: Array<string | Buffer | number>;
  expectedStatus: number;
  expectedCode: string | null;
}

/** Limits the corpus server runs with, small so that oversized cases stay cheap. */
export const CORPUS_LIMITS = {
  maxPayload: 64 * 1024,
  maxBundle: 1024 * 1024,
  maxHeaderSize: 8 * 1024,
  headersTimeout: 400,
  requestTimeout: 1500,
} as const;

const json = { 'content-type': 'application/json' };

/** Rewrites an entry name in a zip's local and central headers (yazl refuses to write hostile names). */
function renameEntry(zip: Buffer, from: string, to: string): Buffer {
  const before = Buffer.from(from, 'latin1');
  const after = Buffer.from(to, 'latin1');
  if (before.length !== after.length) throw new Error('entry names must keep their length');
  const patched = Buffer.from(zip);
  for (let at = patched.indexOf(before); at !== -1; at = patched.indexOf(before, at + 1))
    after.copy(patched, at);
  return patched;
}

/** A deploy body with `zip` as a Lambda-style zipFile. */
async function zipDeploy(zip: Promise<Buffer> | Buffer): Promise<string> {
  return JSON.stringify({
    zipFile: (await zip).toString('base64'),
    runtime: 'nodejs20.x',
    handler: 'index.handler',
  });
}

const handlerJs = 'exports.handler = async () => 1;';

async function symlinkZip(): Promise<Buffer> {
  const { ZipFile } = await import('yazl');
  const zip = new ZipFile();
  zip.addBuffer(Buffer.from(handlerJs), 'index.js');
  // A symlink entry: S_IFLNK in the external attributes, the target as its content.
  zip.addBuffer(Buffer.from('/etc/passwd'), 'passwd', { mode: 0o120777 });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** 200 MiB of zeros in a few hundred KiB: past the unzipped-size and ratio limits. */
async function zipBomb(): Promise<Buffer> {
  // Sanity: the deflate stream is tiny, so the bomb is small on the wire.
  if (deflateRawSync(Buffer.alloc(1024 * 1024)).length > 4096) throw new Error('zlib changed');
  return zipOf({ 'index.js': handlerJs, 'zeros.bin': Buffer.alloc(200 * 1024 * 1024) });
}

export const badInputCases: BadInputCase[] = [
  // --- control plane: names --------------------------------------------------------------------------
  {
    name: 'name with a dot',
    method: 'GET',
    path: '/v1/functions/a.b',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'name of 65 characters',
    method: 'GET',
    path: `/v1/functions/${'a'.repeat(65)}`,
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'encoded path traversal in a name',
    method: 'GET',
    path: '/v1/functions/..%2F..%2Fetc',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'encoded NUL in a name',
    method: 'DELETE',
    path: '/v1/functions/a%00b',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'non-ASCII name',
    method: 'PUT',
    path: '/v1/functions/f%C3%BCnf',
    headers: json,
    body: '{"code":"module.exports=()=>1"}',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'space in a name (create body)',
    method: 'POST',
    path: '/v1/functions',
    headers: json,
    body: '{"name":"a b","code":"module.exports=()=>1"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'name of wrong type (create body)',
    method: 'POST',
    path: '/v1/functions',
    headers: json,
    body: '{"name":42,"code":"module.exports=()=>1"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'invalid alias name',
    method: 'GET',
    path: '/v1/functions/{fn}/aliases/a..b',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  // --- control plane: bodies -------------------------------------------------------------------------
  {
    name: 'malformed JSON deploy',
    method: 'PUT',
    path: '/v1/functions/bad-json',
    headers: json,
    body: '{"code": ',
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'empty JSON deploy body',
    method: 'PUT',
    path: '/v1/functions/empty-json',
    headers: json,
    body: '',
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'JSON array as a deploy body',
    method: 'PUT',
    path: '/v1/functions/array-body',
    headers: json,
    body: '[1,2]',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'non-UTF-8 deploy body',
    method: 'PUT',
    path: '/v1/functions/latin1',
    headers: json,
    body: Buffer.from([0x7b, 0x22, 0x63, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'unknown field in a deploy',
    method: 'PUT',
    path: '/v1/functions/unknown-field',
    headers: json,
    body: '{"code":"module.exports=()=>1","isAdmin":true}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: '__proto__ key in a deploy',
    method: 'PUT',
    path: '/v1/functions/proto-key',
    headers: json,
    body: '{"code":"module.exports=()=>1","__proto__":{"memoryMb":99999}}',
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'code of wrong type',
    method: 'PUT',
    path: '/v1/functions/code-type',
    headers: json,
    body: '{"code":{"a":1}}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'no code, zip or image',
    method: 'PUT',
    path: '/v1/functions/no-code',
    headers: json,
    body: '{}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'memoryMb below the minimum',
    method: 'PUT',
    path: '/v1/functions/small-mem',
    headers: json,
    body: '{"code":"module.exports=()=>1","memoryMb":1}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'memoryMb as a string size',
    method: 'PUT',
    path: '/v1/functions/mem-string',
    headers: json,
    body: '{"code":"module.exports=()=>1","memoryMb":"128mb"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'memoryMb fractional',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"memoryMb":128.5}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'timeout not a duration',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"timeout":"soon"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'timeout negative',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"timeout":-5}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'timeout over 15 minutes',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"timeout":"16m"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'concurrency zero',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"concurrency":0}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'rate limit negative',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"rateLimit":{"rate":-1}}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'env name with a dash',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"env":{"A-B":"x"}}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'env over 4096 bytes',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: JSON.stringify({ env: { BIG: 'x'.repeat(5000) } }),
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'env value not a string',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"env":{"A":1}}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'description over 256 characters',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: JSON.stringify({ description: 'd'.repeat(300) }),
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'deploy body over maxBundle (declared)',
    method: 'PUT',
    path: '/v1/functions/too-big',
    headers: json,
    body: JSON.stringify({ code: 'x'.repeat(CORPUS_LIMITS.maxBundle + 10) }),
    expectedStatus: 413,
    expectedCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'deploy as text/plain',
    method: 'PUT',
    path: '/v1/functions/text-body',
    headers: { 'content-type': 'text/plain' },
    body: 'module.exports=()=>1',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'deploy as multipart',
    method: 'PUT',
    path: '/v1/functions/multipart',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x--',
    expectedStatus: 415,
    expectedCode: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'both code and a zip',
    method: 'PUT',
    path: '/v1/functions/code-and-zip',
    headers: json,
    body: '{"code":"module.exports=()=>1","zipFile":"UEs="}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'source map of wrong type',
    method: 'PUT',
    path: '/v1/functions/map-type',
    headers: json,
    body: '{"code":"module.exports=()=>1","sourceMap":[1]}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'create a function that exists',
    method: 'POST',
    path: '/v1/functions',
    headers: json,
    body: '{"name":"{fn}","code":"module.exports=()=>1"}',
    expectedStatus: 409,
    expectedCode: 'FUNCTION_EXISTS',
  },
  // --- zips ------------------------------------------------------------------------------------------
  {
    name: 'zip that is not base64',
    method: 'PUT',
    path: '/v1/functions/zip-b64',
    headers: json,
    body: '{"zipFile":"!!!not base64!!!","runtime":"nodejs20.x","handler":"index.handler"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'zip that is not a zip',
    method: 'PUT',
    path: '/v1/functions/zip-garbage',
    headers: json,
    body: () => zipDeploy(Buffer.from('this is not a zip file at all')),
    expectedStatus: 400,
    expectedCode: 'INVALID_ZIP',
  },
  {
    name: 'zip entry with ..',
    method: 'PUT',
    path: '/v1/functions/zip-dotdot',
    headers: json,
    body: () =>
      zipDeploy(
        zipOf({ 'index.js': handlerJs, 'aaaevil.js': 'x' }).then((zip) =>
          renameEntry(zip, 'aaaevil.js', '../evil.js'),
        ),
      ),
    expectedStatus: 400,
    expectedCode: 'INVALID_ZIP',
  },
  {
    name: 'zip entry with an absolute path',
    method: 'PUT',
    path: '/v1/functions/zip-absolute',
    headers: json,
    body: () =>
      zipDeploy(
        zipOf({ 'index.js': handlerJs, 'etc/evil.js': 'x' }).then((zip) =>
          renameEntry(zip, 'etc/evil.js', '/tmp/evil.j'),
        ),
      ),
    expectedStatus: 400,
    expectedCode: 'INVALID_ZIP',
  },
  {
    name: 'zip with a symlink entry',
    method: 'PUT',
    path: '/v1/functions/zip-symlink',
    headers: json,
    body: () => zipDeploy(symlinkZip()),
    expectedStatus: 400,
    expectedCode: 'INVALID_ZIP',
  },
  {
    name: 'zip bomb (200 MiB of zeros)',
    method: 'PUT',
    path: '/v1/functions/zip-bomb',
    headers: json,
    body: () => zipDeploy(zipBomb()),
    expectedStatus: 413,
    expectedCode: 'ZIP_TOO_LARGE',
  },
  {
    name: 'zip with an unknown runtime',
    method: 'PUT',
    path: '/v1/functions/zip-runtime',
    headers: json,
    body: async () =>
      JSON.stringify({
        zipFile: (await zipOf({ 'index.js': handlerJs })).toString('base64'),
        runtime: 'cobol85',
      }),
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  // --- control plane: query and path parameters --------------------------------------------------------
  {
    name: 'list limit of zero',
    method: 'GET',
    path: '/v1/functions?limit=0',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'list limit not a number',
    method: 'GET',
    path: '/v1/functions?limit=ten',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'list limit over 1000',
    method: 'GET',
    path: '/v1/functions?limit=100000',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'unknown query parameter',
    method: 'GET',
    path: '/v1/functions?admin=true',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'garbage cursor',
    method: 'GET',
    path: '/v1/functions?cursor=%FF%FE',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'version zero',
    method: 'GET',
    path: '/v1/functions/{fn}/versions/0',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'version not a number',
    method: 'GET',
    path: '/v1/functions/{fn}/versions/latest',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'version that does not exist',
    method: 'GET',
    path: '/v1/functions/{fn}/versions/999',
    expectedStatus: 404,
    expectedCode: 'VERSION_NOT_FOUND',
  },
  {
    name: 'logs since not a time',
    method: 'GET',
    path: '/v1/functions/{fn}/logs?since=yesterday-ish',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'logs limit negative',
    method: 'GET',
    path: '/v1/functions/{fn}/logs?limit=-1',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'invocations limit huge',
    method: 'GET',
    path: '/v1/functions/{fn}/invocations?limit=1e9',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'invocation id of garbage',
    method: 'GET',
    path: '/v1/invocations/%2e%2e%2f%2e%2e',
    expectedStatus: 404,
    expectedCode: 'INVOCATION_NOT_FOUND',
  },
  {
    name: 'trigger with a bad cron expression',
    method: 'POST',
    path: '/v1/functions/{fn}/triggers',
    headers: json,
    body: '{"schedule":"every tuesday"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'trigger with an unknown time zone',
    method: 'POST',
    path: '/v1/functions/{fn}/triggers',
    headers: json,
    body: '{"schedule":"* * * * *","timezone":"Mars/Olympus"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'alias weights over 1',
    method: 'POST',
    path: '/v1/functions/{fn}/aliases',
    headers: json,
    body: '{"name":"live","functionVersion":1,"routingConfig":{"1":2}}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'unknown route',
    method: 'GET',
    path: '/v1/admin',
    expectedStatus: 404,
    expectedCode: 'ROUTE_NOT_FOUND',
  },
  {
    name: 'unknown method on a route',
    method: 'DELETE',
    path: '/v1/functions',
    expectedStatus: 404,
    expectedCode: 'ROUTE_NOT_FOUND',
  },
  // --- invoke ----------------------------------------------------------------------------------------
  {
    name: 'invoke with malformed JSON',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: '{"a":',
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'invoke with non-UTF-8',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: Buffer.from([0x22, 0xc3, 0x28, 0x22]),
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'invoke with a lone surrogate escape',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: '{"a":"\\ud800"}',
    expectedStatus: 200,
    expectedCode: null,
  },
  {
    name: 'invoke with deeply nested JSON',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: `${'['.repeat(20000)}${']'.repeat(20000)}`,
    expectedStatus: 200,
    expectedCode: null,
  },
  {
    name: 'invoke body over maxPayload',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: JSON.stringify({ a: 'x'.repeat(CORPUS_LIMITS.maxPayload) }),
    expectedStatus: 413,
    expectedCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'invoke an invalid name',
    method: 'POST',
    path: '/v1/functions/bad.name/invoke',
    body: '{}',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'invoke a missing function',
    method: 'POST',
    path: '/v1/functions/never-deployed-here/invoke',
    body: '{}',
    expectedStatus: 404,
    expectedCode: 'FUNCTION_NOT_FOUND',
  },
  {
    name: 'invoke a bad version qualifier',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke?version=a.b',
    body: '{}',
    expectedStatus: 400,
    expectedCode: 'INVALID_QUALIFIER',
  },
  {
    name: 'invoke a version that does not exist',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke?version=999',
    body: '{}',
    expectedStatus: 404,
    expectedCode: 'VERSION_NOT_FOUND',
  },
  {
    name: 'async invoke with an oversized idempotency key',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: { prefer: 'respond-async', 'idempotency-key': 'k'.repeat(2000) },
    body: '{}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'async invoke with a bad callback URL',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: { prefer: 'respond-async', 'x-callback-url': 'not a url' },
    body: '{}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  // --- HTTP trigger ----------------------------------------------------------------------------------
  {
    name: 'trigger an invalid name',
    method: 'GET',
    path: '/fn/bad!name/',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'trigger with an invalid namespace (upper case)',
    method: 'GET',
    path: '/fn/Team.fn/',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'trigger with two dots (a namespace holds none)',
    method: 'GET',
    path: '/fn/a.b.c/',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'trigger of another namespace that has no such function',
    method: 'GET',
    path: '/fn/elsewhere.{fn}/',
    expectedStatus: 404,
    expectedCode: 'FUNCTION_NOT_FOUND',
  },
  {
    name: 'trigger a missing function',
    method: 'GET',
    path: '/fn/never-deployed-here/',
    expectedStatus: 404,
    expectedCode: 'FUNCTION_NOT_FOUND',
  },
  {
    name: 'trigger a bad qualifier',
    method: 'GET',
    path: '/fn/{fetch}@..%2F/',
    expectedStatus: 400,
    expectedCode: 'INVALID_QUALIFIER',
  },
  {
    name: 'trigger body over maxPayload',
    method: 'POST',
    path: '/fn/{fetch}/upload',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(CORPUS_LIMITS.maxPayload + 1),
    expectedStatus: 413,
    expectedCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'trigger with a binary non-UTF-8 body',
    method: 'POST',
    path: '/fn/{fetch}/bytes',
    headers: { 'content-type': 'text/plain' },
    body: Buffer.from([0xff, 0xfe, 0x00, 0x80]),
    expectedStatus: 200,
    expectedCode: null,
  },
  {
    name: 'trigger with a traversal path',
    method: 'GET',
    path: '/fn/{fetch}/../../v1/functions',
    expectedStatus: 200,
    expectedCode: null,
  },
  // --- images ----------------------------------------------------------------------------------------
  {
    name: 'pull with a malformed JSON body',
    method: 'POST',
    path: '/v1/images/pull',
    headers: json,
    body: '{"image":',
    expectedStatus: 400,
    expectedCode: 'INVALID_JSON',
  },
  {
    name: 'pull an unparseable reference',
    method: 'POST',
    path: '/v1/images/pull',
    headers: json,
    body: '{"image":"UPPER/Case::tag"}',
    expectedStatus: 400,
    expectedCode: 'INVALID_IMAGE_REFERENCE',
  },
  {
    name: 'pull with an unknown field',
    method: 'POST',
    path: '/v1/images/pull',
    headers: json,
    body: '{"image":"127.0.0.1:5000/a:b","insecure":true}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'archive that is not a tarball',
    method: 'POST',
    path: '/v1/images/archive',
    headers: { 'content-type': 'application/x-tar' },
    body: Buffer.from('definitely not a tar archive'),
    expectedStatus: 400,
    expectedCode: 'INVALID_IMAGE',
  },
  {
    name: 'archive with the wrong content type',
    method: 'POST',
    path: '/v1/images/archive',
    headers: { 'content-type': 'application/zip' },
    body: Buffer.from('PK'),
    expectedStatus: 415,
    expectedCode: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'gc with a bad duration',
    method: 'POST',
    path: '/v1/images/gc',
    headers: json,
    body: '{"grace":"a while"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'deploy an image by a bad digest',
    method: 'PUT',
    path: '/v1/functions/img-digest',
    headers: json,
    body: '{"image":"sha256:xyz"}',
    expectedStatus: 400,
    expectedCode: 'INVALID_IMAGE_REFERENCE',
  },
  // --- Lambda API ------------------------------------------------------------------------------------
  {
    name: 'Lambda: unsigned request',
    method: 'GET',
    path: '/2015-03-31/functions',
    expectedStatus: 403,
    expectedCode: 'MissingAuthenticationTokenException',
  },
  {
    name: 'Lambda: garbage Authorization header',
    method: 'GET',
    path: '/2015-03-31/functions',
    headers: { authorization: 'AWS4-HMAC-SHA256 garbage' },
    expectedStatus: 403,
    expectedCode: 'IncompleteSignatureException',
  },
  {
    name: 'Lambda: malformed JSON create',
    method: 'POST',
    path: '/2015-03-31/functions',
    headers: json,
    body: '{"FunctionName":',
    sign: true,
    expectedStatus: 400,
    expectedCode: 'InvalidRequestContentException',
  },
  {
    name: 'Lambda: create with an unknown field',
    method: 'POST',
    path: '/2015-03-31/functions',
    headers: json,
    body: '{"FunctionName":"x","Runtime":"nodejs20.x","Role":"r","Handler":"i.h","Code":{"ZipFile":""},"Evil":1}',
    sign: true,
    expectedStatus: 400,
    expectedCode: 'InvalidParameterValueException',
  },
  {
    name: 'Lambda: invalid function name',
    method: 'GET',
    path: '/2015-03-31/functions/bad.name',
    sign: true,
    expectedStatus: 400,
    expectedCode: 'InvalidParameterValueException',
  },
  {
    name: 'Lambda: missing function',
    method: 'GET',
    path: '/2015-03-31/functions/never-deployed-here',
    sign: true,
    expectedStatus: 404,
    expectedCode: 'ResourceNotFoundException',
  },
  {
    name: 'Lambda: invoke with malformed JSON',
    method: 'POST',
    path: '/2015-03-31/functions/{fn}/invocations',
    body: '{"a":',
    sign: true,
    expectedStatus: 400,
    expectedCode: 'InvalidRequestContentException',
  },
  {
    name: 'Lambda: invoke over maxPayload',
    method: 'POST',
    path: '/2015-03-31/functions/{fn}/invocations',
    body: JSON.stringify({ a: 'x'.repeat(CORPUS_LIMITS.maxPayload) }),
    sign: true,
    expectedStatus: 413,
    expectedCode: 'RequestTooLargeException',
  },
  {
    name: 'Lambda: unknown operation',
    method: 'GET',
    path: '/2015-03-31/functions/{fn}/policy',
    sign: true,
    expectedStatus: 404,
    expectedCode: 'UnknownOperationException',
  },
  {
    name: 'Lambda: bad invocation type',
    method: 'POST',
    path: '/2015-03-31/functions/{fn}/invocations',
    headers: { 'x-amz-invocation-type': 'Sometimes' },
    body: '{}',
    sign: true,
    expectedStatus: 400,
    expectedCode: 'InvalidParameterValueException',
  },
  // --- auth: the control plane always needs a key, of the right scope ---------------------------------
  {
    name: 'list functions without a key',
    method: 'GET',
    path: '/v1/functions',
    key: 'none',
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'unknown Bearer key',
    method: 'GET',
    path: '/v1/functions',
    headers: { authorization: 'Bearer strato_sk_0000000000000000000000000000000000000000000' },
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'Basic credentials instead of a Bearer key',
    method: 'GET',
    path: '/v1/functions',
    headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'Bearer with a too-short key',
    method: 'GET',
    path: '/v1/functions',
    headers: { authorization: 'Bearer short' },
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'Bearer with an overlong key',
    method: 'GET',
    path: '/v1/functions',
    headers: { authorization: `Bearer strato_sk_${'a'.repeat(300)}` },
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'a revoked key',
    method: 'GET',
    path: '/v1/functions',
    key: 'revoked',
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'invoke without a key',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: '{}',
    key: 'none',
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'invoke with a read key',
    method: 'POST',
    path: '/v1/functions/{fn}/invoke',
    headers: json,
    body: '{}',
    key: 'read',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'deploy with an invoke key',
    method: 'PUT',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"code":"module.exports = async () => 1;"}',
    key: 'invoke',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'delete with a read key',
    method: 'DELETE',
    path: '/v1/functions/{fn}',
    key: 'read',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'read invocations with an invoke key',
    method: 'GET',
    path: '/v1/functions/{fn}/invocations',
    key: 'invoke',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'create a key with a deploy key',
    method: 'POST',
    path: '/v1/keys',
    headers: json,
    body: '{"scopes":["admin"]}',
    key: 'deploy',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'list keys with a read key',
    method: 'GET',
    path: '/v1/keys',
    key: 'read',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'set a secret with a read key',
    method: 'PUT',
    path: '/v1/functions/{fn}/secrets/TOKEN',
    headers: json,
    body: '{"value":"x"}',
    key: 'read',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'metrics without a key',
    method: 'GET',
    path: '/metrics',
    key: 'none',
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'key with an unknown scope',
    method: 'POST',
    path: '/v1/keys',
    headers: json,
    body: '{"scopes":["root"]}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'key in a namespace that cannot be one',
    method: 'POST',
    path: '/v1/keys',
    headers: json,
    body: '{"scopes":["read"],"namespace":"Bad_NS"}',
    expectedStatus: 400,
    expectedCode: 'INVALID_NAME',
  },
  {
    name: 'key with no scopes',
    method: 'POST',
    path: '/v1/keys',
    headers: json,
    body: '{"scopes":[]}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
  {
    name: 'revoke a key id that cannot be one',
    method: 'DELETE',
    path: '/v1/keys/..%2F..%2Fetc',
    expectedStatus: 404,
    expectedCode: 'KEY_NOT_FOUND',
  },
  {
    name: 'revoke an unknown key',
    method: 'DELETE',
    path: '/v1/keys/key_0123456789abcdef',
    expectedStatus: 404,
    expectedCode: 'KEY_NOT_FOUND',
  },
  {
    name: 'key-protected HTTP trigger without a key',
    method: 'GET',
    path: '/fn/{keyed}/',
    key: 'none',
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
  {
    name: 'key-protected HTTP trigger with a read key',
    method: 'GET',
    path: '/fn/{keyed}/',
    key: 'read',
    expectedStatus: 403,
    expectedCode: 'FORBIDDEN',
  },
  {
    name: 'httpAuth that is neither public nor key',
    method: 'PATCH',
    path: '/v1/functions/{fn}',
    headers: json,
    body: '{"httpAuth":"none"}',
    expectedStatus: 400,
    expectedCode: 'VALIDATION_FAILED',
  },
];

export const rawCases: RawCase[] = [
  {
    name: 'request head over maxHeaderSize',
    chunks: [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(CORPUS_LIMITS.maxHeaderSize)}\r\n\r\n`],
    expectedStatus: 431,
    expectedCode: null,
  },
  {
    name: 'thousands of small headers',
    chunks: [
      `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`,
    ],
    expectedStatus: 431,
    expectedCode: null,
  },
  {
    name: 'slow headers (slowloris)',
    chunks: [
      'GET /healthz HTTP/1.1\r\n',
      'Host: x\r\n',
      CORPUS_LIMITS.requestTimeout + 1500,
      'X-Late: 1\r\n\r\n',
    ],
    expectedStatus: 408,
    expectedCode: null,
  },
  {
    name: 'slow body',
    chunks: [
      'POST /v1/functions/{fn}/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 100\r\n\r\n{"a":',
      CORPUS_LIMITS.requestTimeout + 2500,
      '1}',
    ],
    expectedStatus: 408,
    expectedCode: null,
  },
  {
    name: 'declared invoke body over maxPayload, refused before any is sent',
    chunks: [
      `POST /v1/functions/{fn}/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
    ],
    expectedStatus: 413,
    expectedCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'declared deploy body over maxBundle, refused before any is sent',
    chunks: [
      `PUT /v1/functions/huge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
    ],
    expectedStatus: 413,
    expectedCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'chunked invoke body growing past maxPayload',
    chunks: [
      'POST /v1/functions/{fn}/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n\r\n',
      ...Array.from({ length: 20 }, () => `1000\r\n${'a'.repeat(4096)}\r\n`),
    ],
    expectedStatus: 413,
    expectedCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'invalid Content-Length',
    chunks: [
      'POST /v1/functions/{fn}/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: abc\r\n\r\n',
    ],
    expectedStatus: 400,
    expectedCode: null,
  },
  {
    name: 'both Content-Length and Transfer-Encoding (smuggling)',
    chunks: [
      'POST /v1/functions/{fn}/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    expectedStatus: 400,
    expectedCode: null,
  },
  {
    name: 'NUL byte in a header value',
    chunks: ['GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n'],
    expectedStatus: 400,
    expectedCode: null,
  },
  {
    name: 'non-ASCII bytes in the request target',
    chunks: [
      Buffer.concat([
        Buffer.from('GET /v1/functions/'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]),
    ],
    expectedStatus: 400,
    expectedCode: null,
  },
  {
    name: 'declared invoke body without a key: 401 before any is read',
    chunks: [
      `POST /v1/functions/{fn}/invoke HTTP/1.1\r\nHost: x\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
    ],
    expectedStatus: 401,
    expectedCode: 'UNAUTHORIZED',
  },
];
