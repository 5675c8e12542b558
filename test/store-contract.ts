import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CreateAliasInput,
  FunctionConfig,
  InvocationRecord,
  LogLine,
  PublishVersionInput,
  Store,
  VersionRecord,
} from '../src/core/index.js';
import type { CreateTriggerInput } from '../src/core/trigger.js';
import { statsBucket } from './helpers/stats-bucket.js';
import { buildCostReport, costWindow } from '../src/cost/cost-report.js';
import { DEFAULT_PRICES } from '../src/cost/prices.js';

/** A name no other test (or parallel run) uses. */
function uniqueName(label: string): string {
  return `${label}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const BASE_TS = 1_700_000_000_000;

const CONFIG_A: FunctionConfig = { memoryMb: 128, timeoutMs: 10_000, env: {}, concurrency: 10 };
const CONFIG_B: FunctionConfig = {
  memoryMb: 256,
  timeoutMs: 3_000,
  env: { GREETING: 'héllo', EMPTY: '' },
  concurrency: 2,
};

function invocation(functionName: string, overrides: Partial<InvocationRecord> = {}): InvocationRecord {
  return {
    id: randomUUID(),
    functionName,
    version: 1,
    trigger: 'invoke',
    startedAt: new Date(BASE_TS).toISOString(),
    durationMs: 12.345678901,
    initDurationMs: 3.25,
    cold: true,
    outcome: 'success',
    error: null,
    memoryMb: 128,
    billedMs: 13,
    inFlight: 1,
    logBytes: 42,
    logTruncated: false,
    traceId: null,
    spanId: null,
    ...overrides,
  };
}

function logLine(
  invocationId: string,
  functionName: string,
  seq: number,
  overrides: Partial<LogLine> = {},
): LogLine {
  return {
    invocationId,
    functionName,
    seq,
    ts: BASE_TS + seq,
    level: 'info',
    message: `line ${seq}`,
    ...overrides,
  };
}

/** Pages through a listing to its end, failing on a cursor loop. */
async function collectPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; next: string | null }>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = await fetchPage(cursor);
    pages.push(page.items);
    if (page.next === null) return pages;
    cursor = page.next;
  }
  throw new Error('paging did not terminate');
}

/**
 * The behaviour every {@link Store} backend must have. `open` returns a migrated store; it is
 * opened once for the suite, and every test uses names of its own, so suites may run in parallel
 * against one database.
 */
export function runStoreContract(
  name: string,
  open: () => Promise<Store>,
  cleanup?: () => Promise<void>,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await open();
    });

    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    /** Stores a fresh artifact and publishes it; bytes differ per call so hashes do too. */
    async function publish(
      functionName: string,
      overrides: Partial<PublishVersionInput> = {},
    ): Promise<Awaited<ReturnType<Store['publishVersion']>>> {
      const code = new TextEncoder().encode(`export default () => '${randomUUID()}';`);
      const codeSha256 = sha256Hex(code);
      await store.putArtifact(codeSha256, code);
      return store.publishVersion({
        functionName,
        codeSha256,
        sourceMapSha256: null,
        config: CONFIG_A,
        description: '',
        mode: 'upsert',
        ...overrides,
      });
    }

    it('reports its kind and migrates again as a no-op', async () => {
      expect(['sqlite', 'postgres']).toContain(store.kind);
      const fn = uniqueName('migrate');
      await publish(fn);
      await store.migrate();
      await store.migrate();
      expect((await store.getFunction(fn))?.latestVersion).toBe(1);
    });

    describe('artifacts', () => {
      it('round-trips bytes exactly, as a plain Uint8Array', async () => {
        const bytes = new Uint8Array(256 * 4 + 3).map((_, i) => i % 256);
        const sha = sha256Hex(bytes);
        await store.putArtifact(sha, bytes);
        const stored = await store.getArtifact(sha);
        expect(stored).toBeInstanceOf(Uint8Array);
        expect(stored && Buffer.from(stored).equals(Buffer.from(bytes))).toBe(true);
      });

      it('round-trips a 2 MiB blob and an empty one', async () => {
        const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => (i * 31) % 251);
        const empty = new Uint8Array(0);
        // The empty blob's real hash is shared by every run: harmless, since puts are idempotent.
        await store.putArtifact(sha256Hex(big), big);
        await store.putArtifact(sha256Hex(empty), empty);
        expect(Buffer.from((await store.getArtifact(sha256Hex(big))) ?? []).equals(Buffer.from(big))).toBe(
          true,
        );
        expect((await store.getArtifact(sha256Hex(empty)))?.byteLength).toBe(0);
      });

      it('accepts a Uint8Array view into a larger buffer', async () => {
        const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
        const view = backing.subarray(2, 5);
        await store.putArtifact(sha256Hex(view), view);
        expect([...((await store.getArtifact(sha256Hex(view))) ?? [])]).toEqual([1, 2, 3]);
      });

      it('treats a second put of the same hash as a no-op', async () => {
        const first = new TextEncoder().encode(uniqueName('first'));
        const sha = sha256Hex(first);
        await store.putArtifact(sha, first);
        await store.putArtifact(sha, first);
        // Content addressing: whatever arrives under a stored hash is not written again.
        await store.putArtifact(sha, new TextEncoder().encode('something else'));
        expect(new TextDecoder().decode(await store.getArtifact(sha))).toBe(new TextDecoder().decode(first));
      });

      it('returns undefined for an unknown hash, and copies that callers cannot corrupt', async () => {
        expect(
          await store.getArtifact(sha256Hex(new TextEncoder().encode(uniqueName('none')))),
        ).toBeUndefined();
        const bytes = new Uint8Array([1, 2, 3, 4]).map((b) => b + Math.floor(Math.random() * 100));
        const sha = sha256Hex(bytes);
        await store.putArtifact(sha, bytes);
        const copy = await store.getArtifact(sha);
        copy?.fill(0);
        expect([...((await store.getArtifact(sha)) ?? [])]).toEqual([...bytes]);
      });
    });

    describe('publishVersion', () => {
      it('creates a function at version 1 with every field recorded', async () => {
        const fn = uniqueName('create');
        const code = new TextEncoder().encode('export default () => 1;');
        const map = new TextEncoder().encode(`{"version":3,"mappings":"","n":"${fn}"}`);
        await store.putArtifact(sha256Hex(code), code);
        await store.putArtifact(sha256Hex(map), map);
        const before = Date.now();
        const result = await store.publishVersion({
          functionName: fn,
          codeSha256: sha256Hex(code),
          sourceMapSha256: sha256Hex(map),
          config: CONFIG_B,
          description: 'first deploy ✓',
          mode: 'create',
        });
        expect(result.created).toBe(true);
        expect(result.fn).toEqual({
          name: fn,
          latestVersion: 1,
          createdAt: result.fn.createdAt,
          updatedAt: result.fn.updatedAt,
        });
        expect(Date.parse(result.fn.createdAt)).toBeGreaterThanOrEqual(before - 1000);
        expect(result.version).toStrictEqual({
          functionName: fn,
          version: 1,
          codeSha256: sha256Hex(code),
          codeSize: code.byteLength,
          sourceMapSha256: sha256Hex(map),
          config: CONFIG_B,
          description: 'first deploy ✓',
          createdAt: result.version.createdAt,
        });
        expect(await store.getFunction(fn)).toStrictEqual(result.fn);
        expect(await store.getVersion(fn, 1)).toStrictEqual(result.version);
      });

      it("fails 'create' with FUNCTION_EXISTS and adds no version", async () => {
        const fn = uniqueName('exists');
        await publish(fn, { mode: 'create' });
        await expect(publish(fn, { mode: 'create' })).rejects.toMatchObject({ code: 'FUNCTION_EXISTS' });
        expect((await store.getFunction(fn))?.latestVersion).toBe(1);
        expect(await store.getVersion(fn, 2)).toBeUndefined();
      });

      it("fails 'update' of a missing function with FUNCTION_NOT_FOUND and creates nothing", async () => {
        const fn = uniqueName('missing');
        await expect(publish(fn, { mode: 'update' })).rejects.toMatchObject({ code: 'FUNCTION_NOT_FOUND' });
        expect(await store.getFunction(fn)).toBeUndefined();
        expect(await store.getVersion(fn, 1)).toBeUndefined();
      });

      it("'update' and 'upsert' add versions to an existing function; 'upsert' creates a missing one", async () => {
        const fn = uniqueName('modes');
        const first = await publish(fn, { mode: 'upsert' });
        expect(first.created).toBe(true);
        expect(first.version.version).toBe(1);
        const second = await publish(fn, { mode: 'update' });
        expect(second.created).toBe(false);
        expect(second.version.version).toBe(2);
        const third = await publish(fn, { mode: 'upsert' });
        expect(third.created).toBe(false);
        expect(third.version.version).toBe(3);
      });

      it('numbers versions 1, 2, 3 and moves latest, keeping createdAt', async () => {
        const fn = uniqueName('numbering');
        const results: Array<Awaited<ReturnType<Store['publishVersion']>>> = [];
        for (let i = 0; i < 3; i++) results.push(await publish(fn, { description: `v${i + 1}` }));
        expect(results.map((r) => r.version.version)).toEqual([1, 2, 3]);
        expect(results.map((r) => r.fn.latestVersion)).toEqual([1, 2, 3]);
        const stored = await store.getFunction(fn);
        expect(stored?.latestVersion).toBe(3);
        expect(stored?.createdAt).toBe(results[0]?.fn.createdAt);
        expect(stored?.updatedAt).toBe(results[2]?.fn.updatedAt);
        expect(Date.parse(stored?.updatedAt ?? '')).toBeGreaterThanOrEqual(
          Date.parse(stored?.createdAt ?? ''),
        );
      });

      it('leaves earlier versions untouched', async () => {
        const fn = uniqueName('immutable');
        const v1 = await publish(fn, { config: CONFIG_A, description: 'one' });
        await publish(fn, { config: CONFIG_B, description: 'two' });
        await publish(fn, { config: { ...CONFIG_B, memoryMb: 512 }, description: 'three' });
        expect(await store.getVersion(fn, 1)).toStrictEqual(v1.version);
        expect((await store.getVersion(fn, 2))?.config).toStrictEqual(CONFIG_B);
        expect((await store.getVersion(fn, 3))?.config.memoryMb).toBe(512);
      });

      it('fails with ARTIFACT_NOT_FOUND when the code or source map is not stored', async () => {
        const fn = uniqueName('no-artifact');
        const absent = sha256Hex(new TextEncoder().encode(uniqueName('absent')));
        await expect(
          store.publishVersion({
            functionName: fn,
            codeSha256: absent,
            sourceMapSha256: null,
            config: CONFIG_A,
            description: '',
            mode: 'create',
          }),
        ).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
        // The function row created inside the failed transaction is rolled back with it.
        expect(await store.getFunction(fn)).toBeUndefined();
        await expect(publish(fn, { sourceMapSha256: absent })).rejects.toMatchObject({
          code: 'ARTIFACT_NOT_FOUND',
        });
        expect(await store.getFunction(fn)).toBeUndefined();
      });

      it('gives 10 concurrent publishes of one new function 10 distinct numbers', async () => {
        const fn = uniqueName('concurrent');
        const results = await Promise.all(Array.from({ length: 10 }, () => publish(fn, { mode: 'upsert' })));
        const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
        expect(numbers).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect((await store.getFunction(fn))?.latestVersion).toBe(10);
        // Each number belongs to the code its publish call stored.
        for (const result of results) {
          expect((await store.getVersion(fn, result.version.version))?.codeSha256).toBe(
            result.version.codeSha256,
          );
        }
      });

      it("lets exactly one of 5 concurrent 'create' calls win", async () => {
        const fn = uniqueName('race');
        const settled = await Promise.allSettled(
          Array.from({ length: 5 }, () => publish(fn, { mode: 'create' })),
        );
        expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of settled) {
          if (outcome.status === 'rejected')
            expect(outcome.reason).toMatchObject({ code: 'FUNCTION_EXISTS' });
        }
        expect((await store.getFunction(fn))?.latestVersion).toBe(1);
      });
    });

    describe('functions and versions', () => {
      it('returns undefined for unknown functions and versions', async () => {
        const fn = uniqueName('unknown');
        expect(await store.getFunction(fn)).toBeUndefined();
        expect(await store.getVersion(fn, 1)).toBeUndefined();
        await publish(fn);
        expect(await store.getVersion(fn, 2)).toBeUndefined();
      });

      it('pages through listFunctions covering every function exactly once', async () => {
        const prefix = uniqueName('list');
        const names = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);
        // Published out of order: the listing order must not depend on insertion order.
        for (const fnName of [...names].reverse()) await publish(fnName);
        const pages = await collectPages((cursor) => store.listFunctions({ limit: 3, cursor }));
        const all = pages.flat();
        expect(pages.slice(0, -1).every((page) => page.length === 3)).toBe(true);
        expect(new Set(all.map((f) => f.name)).size).toBe(all.length);
        const ours = all.filter((f) => f.name.startsWith(`${prefix}-`));
        expect(ours.map((f) => f.name)).toEqual(names);
        expect(ours.every((f) => f.latestVersion === 1)).toBe(true);
      });

      it('rejects a bad limit or cursor with VALIDATION_FAILED', async () => {
        await expect(store.listFunctions({ limit: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
        await expect(store.listFunctions({ limit: 1.5 })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
        await expect(store.listFunctions({ limit: 2, cursor: 'not a cursor' })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
        await expect(store.listVersions('x', { limit: 2, cursor: 'eyJ4IjoxfQ' })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
        await expect(
          store.listInvocations({ functionName: 'x', limit: 2, cursor: 'WzFd' }),
        ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
        await expect(store.listLogs({ functionName: 'x', limit: -1 })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
      });

      it('lists versions newest first, page by page', async () => {
        const fn = uniqueName('versions');
        for (let i = 0; i < 5; i++) await publish(fn);
        const pages = await collectPages((cursor) => store.listVersions(fn, { limit: 2, cursor }));
        expect(pages.map((page) => page.map((v) => v.version))).toEqual([[5, 4], [3, 2], [1]]);
        // A page that ends exactly at the last item has no next cursor.
        const exact = await store.listVersions(fn, { limit: 5 });
        expect(exact.items.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);
        expect(exact.next).toBeNull();
        const first: VersionRecord | undefined = exact.items.at(-1);
        expect(first).toStrictEqual(await store.getVersion(fn, 1));
        expect(await store.listVersions(uniqueName('none'), { limit: 10 })).toEqual({
          items: [],
          next: null,
        });
      });
    });

    describe('deleteFunction', () => {
      it('removes the function, its versions, invocations and logs, but not artifacts or other functions', async () => {
        const fn = uniqueName('doomed');
        const other = uniqueName('survivor');
        const published = await publish(fn);
        await publish(fn);
        await publish(other);
        const doomedCall = invocation(fn);
        const otherCall = invocation(other);
        await store.recordInvocations(
          [doomedCall, otherCall],
          [logLine(doomedCall.id, fn, 0), logLine(doomedCall.id, fn, 1), logLine(otherCall.id, other, 0)],
        );

        expect(await store.deleteFunction(fn)).toBe(true);
        expect(await store.getFunction(fn)).toBeUndefined();
        expect(await store.getVersion(fn, 1)).toBeUndefined();
        expect((await store.listVersions(fn, { limit: 10 })).items).toEqual([]);
        expect(await store.getInvocation(doomedCall.id)).toBeUndefined();
        expect((await store.listInvocations({ functionName: fn, limit: 10 })).items).toEqual([]);
        expect(await store.listLogs({ functionName: fn, limit: 10 })).toEqual([]);
        expect(await store.getArtifact(published.version.codeSha256)).toBeDefined();

        expect((await store.getFunction(other))?.latestVersion).toBe(1);
        expect(await store.getInvocation(otherCall.id)).toBeDefined();
        expect(await store.listLogs({ functionName: other, limit: 10 })).toHaveLength(1);

        expect(await store.deleteFunction(fn)).toBe(false);
      });

      it('returns false for a function that never existed, and a re-created function starts at 1', async () => {
        const fn = uniqueName('phoenix');
        expect(await store.deleteFunction(fn)).toBe(false);
        await publish(fn);
        await publish(fn);
        expect(await store.deleteFunction(fn)).toBe(true);
        const reborn = await publish(fn, { mode: 'create' });
        expect(reborn.created).toBe(true);
        expect(reborn.version.version).toBe(1);
      });
    });

    describe('aliases', () => {
      /** A function with `versions` published versions. */
      async function withVersions(label: string, versions: number): Promise<string> {
        const fn = uniqueName(label);
        for (let i = 0; i < versions; i++) await publish(fn);
        return fn;
      }

      it('creates, reads and lists aliases with every field recorded', async () => {
        const fn = await withVersions('alias-create', 3);
        const before = Date.now();
        const live = await store.createAlias({
          functionName: fn,
          name: 'live',
          functionVersion: 2,
          additionalVersionWeights: { '3': 0.25 },
          description: 'canary ✓',
        });
        expect(live).toStrictEqual({
          functionName: fn,
          name: 'live',
          functionVersion: 2,
          additionalVersionWeights: { '3': 0.25 },
          description: 'canary ✓',
          createdAt: live.createdAt,
          updatedAt: live.createdAt,
        });
        expect(Date.parse(live.createdAt)).toBeGreaterThanOrEqual(before - 1000);
        expect(await store.getAlias(fn, 'live')).toStrictEqual(live);
        const beta = await store.createAlias({
          functionName: fn,
          name: 'Beta_1-x',
          functionVersion: 1,
          additionalVersionWeights: {},
          description: '',
        });
        // By name: 'B' sorts before 'l' in byte order and in the usual locales alike.
        expect(await store.listAliases(fn)).toStrictEqual([beta, live]);
        expect(await store.getAlias(fn, 'missing')).toBeUndefined();
        expect(await store.listAliases(uniqueName('none'))).toEqual([]);
      });

      it('keeps aliases of different functions apart', async () => {
        const a = await withVersions('alias-a', 1);
        const b = await withVersions('alias-b', 2);
        const input = { name: 'prod', additionalVersionWeights: {}, description: '' };
        await store.createAlias({ ...input, functionName: a, functionVersion: 1 });
        await store.createAlias({ ...input, functionName: b, functionVersion: 2 });
        expect((await store.getAlias(a, 'prod'))?.functionVersion).toBe(1);
        expect((await store.getAlias(b, 'prod'))?.functionVersion).toBe(2);
        expect(await store.deleteAlias(a, 'prod')).toBe(true);
        expect(await store.getAlias(a, 'prod')).toBeUndefined();
        expect(await store.getAlias(b, 'prod')).toBeDefined();
        expect(await store.deleteAlias(a, 'prod')).toBe(false);
      });

      it('refuses a duplicate, a missing function or version, and bad weights, creating nothing', async () => {
        const fn = await withVersions('alias-refused', 2);
        const base = { functionName: fn, name: 'x', additionalVersionWeights: {}, description: '' };
        await store.createAlias({ ...base, functionVersion: 1 });
        await expect(store.createAlias({ ...base, functionVersion: 2 })).rejects.toMatchObject({
          code: 'ALIAS_EXISTS',
        });
        expect((await store.getAlias(fn, 'x'))?.functionVersion).toBe(1);

        await expect(
          store.createAlias({ ...base, functionName: uniqueName('ghost'), functionVersion: 1 }),
        ).rejects.toMatchObject({ code: 'FUNCTION_NOT_FOUND' });
        const refused: Array<
          [Pick<CreateAliasInput, 'functionVersion'> & Partial<CreateAliasInput>, string]
        > = [
          [{ functionVersion: 3 }, 'VERSION_NOT_FOUND'],
          [{ functionVersion: 1, additionalVersionWeights: { '3': 0.5 } }, 'VERSION_NOT_FOUND'],
          [{ functionVersion: 1, additionalVersionWeights: { '2': 1.5 } }, 'VALIDATION_FAILED'],
          [{ functionVersion: 1, additionalVersionWeights: { '2': -0.1 } }, 'VALIDATION_FAILED'],
          [{ functionVersion: 1, additionalVersionWeights: { '1': 0.5 } }, 'VALIDATION_FAILED'],
          [{ functionVersion: 1, additionalVersionWeights: { latest: 0.5 } }, 'VALIDATION_FAILED'],
          [{ functionVersion: 0 }, 'VALIDATION_FAILED'],
        ];
        for (const [overrides, code] of refused) {
          await expect(store.createAlias({ ...base, name: 'y', ...overrides })).rejects.toMatchObject({
            code,
          });
        }
        expect((await store.listAliases(fn)).map((alias) => alias.name)).toEqual(['x']);
      });

      it('updates only the fields given, checking the merged result', async () => {
        const fn = await withVersions('alias-update', 3);
        const created = await store.createAlias({
          functionName: fn,
          name: 'live',
          functionVersion: 1,
          additionalVersionWeights: {},
          description: 'first',
        });
        const shifted = await store.updateAlias(fn, 'live', {
          functionVersion: 2,
          additionalVersionWeights: { '1': 0.3 },
        });
        expect(shifted).toStrictEqual({
          ...created,
          functionVersion: 2,
          additionalVersionWeights: { '1': 0.3 },
          updatedAt: shifted.updatedAt,
        });
        expect(Date.parse(shifted.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
        const described = await store.updateAlias(fn, 'live', { description: 'second' });
        expect(described).toMatchObject({
          functionVersion: 2,
          additionalVersionWeights: { '1': 0.3 },
          description: 'second',
        });
        expect(await store.getAlias(fn, 'live')).toStrictEqual(described);

        // Moving the primary onto the extra version would route to one version twice.
        await expect(store.updateAlias(fn, 'live', { functionVersion: 1 })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
        await expect(store.updateAlias(fn, 'live', { functionVersion: 4 })).rejects.toMatchObject({
          code: 'VERSION_NOT_FOUND',
        });
        await expect(
          store.updateAlias(fn, 'live', { additionalVersionWeights: { '9': 0.1 } }),
        ).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
        expect(await store.getAlias(fn, 'live')).toStrictEqual(described);

        const cleared = await store.updateAlias(fn, 'live', {
          functionVersion: 3,
          additionalVersionWeights: {},
        });
        expect(cleared).toMatchObject({
          functionVersion: 3,
          additionalVersionWeights: {},
          description: 'second',
        });

        await expect(store.updateAlias(fn, 'nope', { description: '' })).rejects.toMatchObject({
          code: 'ALIAS_NOT_FOUND',
        });
        await expect(
          store.updateAlias(uniqueName('ghost'), 'live', { description: '' }),
        ).rejects.toMatchObject({ code: 'FUNCTION_NOT_FOUND' });
      });

      it('lets exactly one of 5 concurrent creates of one alias win', async () => {
        const fn = await withVersions('alias-race', 5);
        const settled = await Promise.allSettled(
          [1, 2, 3, 4, 5].map((functionVersion) =>
            store.createAlias({
              functionName: fn,
              name: 'live',
              functionVersion,
              additionalVersionWeights: {},
              description: '',
            }),
          ),
        );
        const won = settled.filter((s) => s.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const outcome of settled) {
          if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'ALIAS_EXISTS' });
        }
        expect(await store.getAlias(fn, 'live')).toStrictEqual(won[0]?.value);
      });

      it('goes with its function', async () => {
        const fn = await withVersions('alias-doomed', 2);
        const other = await withVersions('alias-kept', 1);
        const input = { name: 'live', functionVersion: 1, additionalVersionWeights: {}, description: '' };
        await store.createAlias({ ...input, functionName: fn, additionalVersionWeights: { '2': 0.5 } });
        await store.createAlias({ ...input, functionName: fn, name: 'stable' });
        await store.createAlias({ ...input, functionName: other });

        expect(await store.deleteFunction(fn)).toBe(true);
        expect(await store.listAliases(fn)).toEqual([]);
        expect(await store.getAlias(fn, 'live')).toBeUndefined();
        expect(await store.getAlias(other, 'live')).toBeDefined();
        // A re-created function starts without the old aliases, and can reuse their names.
        await publish(fn, { mode: 'create' });
        expect(await store.listAliases(fn)).toEqual([]);
        await store.createAlias({ ...input, functionName: fn });
        expect((await store.getAlias(fn, 'live'))?.functionVersion).toBe(1);
      });
    });

    describe('triggers', () => {
      function triggerInput(functionName: string, overrides: Partial<CreateTriggerInput> = {}) {
        return {
          id: `trg_${randomUUID().replaceAll('-', '')}`,
          type: 'cron',
          functionName,
          qualifier: null,
          schedule: '*/5 * * * *',
          timezone: 'Europe/Berlin',
          payloadJson: '{"greeting":"héllo ✓"}',
          missed: 'catch-up-once',
          enabled: true,
          createdAt: new Date(BASE_TS).toISOString(),
          ...overrides,
        } satisfies CreateTriggerInput;
      }

      it('creates, reads and lists triggers with every field recorded', async () => {
        const fn = uniqueName('trigger-create');
        await publish(fn);
        const first = await store.createTrigger(triggerInput(fn));
        expect(first).toStrictEqual({ ...triggerInput(fn, { id: first.id }), lastFiredSlot: null });
        expect(await store.getTrigger(first.id)).toStrictEqual(first);
        const second = await store.createTrigger(
          triggerInput(fn, {
            qualifier: 'live',
            schedule: '* * * * * *',
            timezone: 'UTC',
            payloadJson: '[]',
            missed: 'skip',
            enabled: false,
            createdAt: new Date(BASE_TS + 1).toISOString(),
          }),
        );
        expect(await store.getTrigger(second.id)).toStrictEqual(second);
        expect(await store.listTriggers({ functionName: fn })).toStrictEqual([first, second]);
        const all = await store.listTriggers({});
        expect(all).toEqual(expect.arrayContaining([first, second]));
        expect(await store.getTrigger('trg_missing')).toBeUndefined();
        expect(await store.listTriggers({ functionName: uniqueName('none') })).toEqual([]);
      });

      it('refuses a trigger of a missing function, creating nothing', async () => {
        const ghost = uniqueName('trigger-ghost');
        await expect(store.createTrigger(triggerInput(ghost))).rejects.toMatchObject({
          code: 'FUNCTION_NOT_FOUND',
        });
        expect(await store.listTriggers({ functionName: ghost })).toEqual([]);
      });

      it('moves lastFiredSlot forward only, also under concurrent writers', async () => {
        const fn = uniqueName('trigger-fired');
        await publish(fn);
        const { id } = await store.createTrigger(triggerInput(fn));
        expect(await store.recordTriggerFired(id, '2024-01-01T00:05:00.000Z')).toBe(true);
        expect(await store.recordTriggerFired(id, '2024-01-01T00:05:00.000Z')).toBe(false);
        expect(await store.recordTriggerFired(id, '2024-01-01T00:00:00.000Z')).toBe(false);
        expect((await store.getTrigger(id))?.lastFiredSlot).toBe('2024-01-01T00:05:00.000Z');
        const slots = [20, 10, 35, 15, 30, 25].map((m) => `2024-01-01T00:${m}:00.000Z`);
        await Promise.all(slots.map((slot) => store.recordTriggerFired(id, slot)));
        expect((await store.getTrigger(id))?.lastFiredSlot).toBe('2024-01-01T00:35:00.000Z');
        expect(await store.recordTriggerFired('trg_missing', '2024-01-01T00:05:00.000Z')).toBe(false);
      });

      it('deletes one trigger, and all of them with their function', async () => {
        const fn = uniqueName('trigger-doomed');
        const other = uniqueName('trigger-kept');
        await publish(fn);
        await publish(other);
        const a = await store.createTrigger(triggerInput(fn));
        const b = await store.createTrigger(triggerInput(fn));
        const kept = await store.createTrigger(triggerInput(other));
        expect(await store.deleteTrigger(a.id)).toBe(true);
        expect(await store.deleteTrigger(a.id)).toBe(false);
        expect(await store.getTrigger(a.id)).toBeUndefined();

        expect(await store.deleteFunction(fn)).toBe(true);
        expect(await store.getTrigger(b.id)).toBeUndefined();
        expect(await store.listTriggers({ functionName: fn })).toEqual([]);
        expect(await store.getTrigger(kept.id)).toStrictEqual(kept);
        // A re-created function starts without the old triggers.
        await publish(fn, { mode: 'create' });
        expect(await store.listTriggers({ functionName: fn })).toEqual([]);
      });
    });

    describe('secrets', () => {
      const T0 = new Date(BASE_TS).toISOString();
      const T1 = new Date(BASE_TS + 1000).toISOString();

      it('creates, replaces (keeping createdAt), lists without values and loads with ciphertexts', async () => {
        const fn = uniqueName('secret-put');
        await publish(fn);
        const created = await store.putSecret({
          functionName: fn,
          name: 'TOKEN',
          ciphertext: 'v1.aaa',
          now: T0,
        });
        expect(created).toStrictEqual({
          secret: { functionName: fn, name: 'TOKEN', createdAt: T0, updatedAt: T0 },
          created: true,
        });
        const replaced = await store.putSecret({
          functionName: fn,
          name: 'TOKEN',
          ciphertext: 'v1.bbb',
          now: T1,
        });
        expect(replaced).toStrictEqual({
          secret: { functionName: fn, name: 'TOKEN', createdAt: T0, updatedAt: T1 },
          created: false,
        });
        await store.putSecret({ functionName: fn, name: 'A_KEY', ciphertext: 'v1.ccc', now: T1 });
        expect(await store.listSecrets(fn)).toStrictEqual([
          { functionName: fn, name: 'A_KEY', createdAt: T1, updatedAt: T1 },
          { functionName: fn, name: 'TOKEN', createdAt: T0, updatedAt: T1 },
        ]);
        expect(await store.loadSecrets({ functionName: fn })).toStrictEqual([
          { functionName: fn, name: 'A_KEY', createdAt: T1, updatedAt: T1, ciphertext: 'v1.ccc' },
          { functionName: fn, name: 'TOKEN', createdAt: T0, updatedAt: T1, ciphertext: 'v1.bbb' },
        ]);
        const all = await store.loadSecrets({});
        expect(all.filter((secret) => secret.functionName === fn)).toHaveLength(2);
      });

      it('refuses a secret of a missing function; deletes one, and all with their function', async () => {
        const ghost = uniqueName('secret-ghost');
        await expect(
          store.putSecret({ functionName: ghost, name: 'X', ciphertext: 'v1.x', now: T0 }),
        ).rejects.toMatchObject({ code: 'FUNCTION_NOT_FOUND' });
        const fn = uniqueName('secret-doomed');
        const other = uniqueName('secret-kept');
        await publish(fn);
        await publish(other);
        await store.putSecret({ functionName: fn, name: 'ONE', ciphertext: 'v1.1', now: T0 });
        await store.putSecret({ functionName: fn, name: 'TWO', ciphertext: 'v1.2', now: T0 });
        await store.putSecret({ functionName: other, name: 'ONE', ciphertext: 'v1.3', now: T0 });
        expect(await store.deleteSecret(fn, 'ONE')).toBe(true);
        expect(await store.deleteSecret(fn, 'ONE')).toBe(false);
        expect((await store.listSecrets(fn)).map((secret) => secret.name)).toEqual(['TWO']);
        expect(await store.deleteFunction(fn)).toBe(true);
        expect(await store.loadSecrets({ functionName: fn })).toEqual([]);
        await publish(fn, { mode: 'create' });
        expect(await store.listSecrets(fn)).toEqual([]);
        expect((await store.loadSecrets({ functionName: other }))[0]?.ciphertext).toBe('v1.3');
      });
    });

    describe('api keys', () => {
      it('stores a key by its hash, lists it by namespace, revokes it once, and refuses a duplicate hash', async () => {
        const namespace = uniqueName('ns');
        const hash = sha256Hex(new TextEncoder().encode(randomUUID()));
        const before = await store.countApiKeys();
        const key = {
          id: `key_${randomUUID().slice(0, 8)}`,
          namespace,
          scopes: ['deploy' as const, 'read' as const],
          description: 'ci déploy',
          createdAt: new Date(BASE_TS).toISOString(),
          revokedAt: null,
          rateLimit: { ratePerSecond: 2.5, burst: 5, initialBurst: 1 },
        };
        expect(await store.createApiKey({ ...key, tokenSha256: hash })).toStrictEqual(key);
        expect(await store.countApiKeys()).toBe(before + 1);
        expect(await store.findApiKey(hash)).toStrictEqual({ ...key, tokenSha256: hash });
        expect(await store.findApiKey('0'.repeat(64))).toBeUndefined();
        expect(await store.listApiKeys({ namespace })).toStrictEqual([key]);
        expect(await store.listApiKeys({ namespace: uniqueName('ns-none') })).toEqual([]);
        await expect(store.createApiKey({ ...key, id: `${key.id}x`, tokenSha256: hash })).rejects.toThrow();
        const revokedAt = new Date(BASE_TS + 5).toISOString();
        expect(await store.revokeApiKey(key.id, revokedAt, uniqueName('ns-other'))).toBe(false);
        expect(await store.revokeApiKey(key.id, revokedAt, namespace)).toBe(true);
        expect(await store.revokeApiKey(key.id, revokedAt)).toBe(false);
        expect(await store.revokeApiKey('key_missing', revokedAt)).toBe(false);
        expect((await store.findApiKey(hash))?.revokedAt).toBe(revokedAt);
      });
    });

    describe('invocations', () => {
      it('round-trips every field of every record', async () => {
        const fn = uniqueName('fields');
        const records: InvocationRecord[] = [
          invocation(fn, { cold: true, error: null, durationMs: 0.1 + 0.2, initDurationMs: 17.0625 }),
          invocation(fn, {
            version: 7,
            trigger: 'http',
            startedAt: new Date(BASE_TS + 1).toISOString(),
            durationMs: 1234.5678,
            initDurationMs: 0,
            cold: false,
            outcome: 'error',
            error: {
              type: 'TypeError',
              message: "can't read 'x' of undefined",
              stack: 'TypeError\n    at handler (src/index.ts:3:7)',
            },
            memoryMb: 1024,
            billedMs: 1235,
            logBytes: 1_048_576,
            logTruncated: true,
            traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
            spanId: '00f067aa0ba902b7',
          }),
          invocation(fn, {
            startedAt: new Date(BASE_TS + 2).toISOString(),
            outcome: 'timeout',
            error: { type: 'TimeoutError', message: 'timed out after 3000 ms', stack: undefined },
          }),
        ];
        await store.recordInvocations(records, []);
        for (const record of records) expect(await store.getInvocation(record.id)).toStrictEqual(record);
        expect(await store.getInvocation(randomUUID())).toBeUndefined();
      });

      it('accepts empty batches, and re-recording a batch duplicates nothing', async () => {
        await store.recordInvocations([], []);
        const fn = uniqueName('retry');
        const call = invocation(fn);
        const lines = [logLine(call.id, fn, 0), logLine(call.id, fn, 1)];
        await store.recordInvocations([call], lines);
        await store.recordInvocations([call], lines);
        expect((await store.listInvocations({ functionName: fn, limit: 10 })).items).toHaveLength(1);
        expect(await store.listLogs({ functionName: fn, limit: 10 })).toHaveLength(2);
      });

      it('lists invocations of one function newest first, page by page, ties broken stably', async () => {
        const fn = uniqueName('history');
        const other = uniqueName('other');
        const records = Array.from({ length: 7 }, (_, i) =>
          invocation(fn, { startedAt: new Date(BASE_TS + i * 1000).toISOString() }),
        );
        // Two invocations started in the same millisecond.
        records.push(invocation(fn, { startedAt: new Date(BASE_TS + 3000).toISOString() }));
        await store.recordInvocations([...records, invocation(other)], []);

        const pages = await collectPages((cursor) =>
          store.listInvocations({ functionName: fn, limit: 3, cursor }),
        );
        expect(pages.map((page) => page.length)).toEqual([3, 3, 2]);
        const listed = pages.flat();
        const expected = [...records].sort(
          (a, b) => b.startedAt.localeCompare(a.startedAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        );
        expect(listed.map((r) => r.id)).toEqual(expected.map((r) => r.id));
        expect(listed[0]).toStrictEqual(expected[0]);
      });
    });

    describe('invocation filters and stats', () => {
      /** Five records over three minutes: cold/warm, success/error/timeout, known durations. */
      async function recordWindow(fn: string): Promise<InvocationRecord[]> {
        const at = (ms: number): string => new Date(BASE_TS + ms).toISOString();
        const records = [
          invocation(fn, { startedAt: at(0), durationMs: 10, cold: true }),
          invocation(fn, { startedAt: at(20_000), durationMs: 30, cold: false, outcome: 'error' }),
          invocation(fn, { startedAt: at(40_000), durationMs: 20, cold: false }),
          invocation(fn, { startedAt: at(130_000), durationMs: 7, cold: true, outcome: 'timeout' }),
          // Just past the window below.
          invocation(fn, { startedAt: at(180_000), durationMs: 99, cold: false }),
        ];
        await store.recordInvocations([...records, invocation(uniqueName('other'))], []);
        return records;
      }

      it('filters invocations by outcome, cold and start time, and pages the filtered list', async () => {
        const fn = uniqueName('filters');
        const [coldOk, error, warmOk, timeout, late] = await recordWindow(fn);
        const ids = async (query: Partial<Parameters<Store['listInvocations']>[0]>): Promise<string[]> =>
          (await store.listInvocations({ functionName: fn, limit: 100, ...query })).items.map((r) => r.id);
        expect(await ids({ outcome: 'error' })).toEqual([error!.id]);
        expect(await ids({ cold: true })).toEqual([timeout!.id, coldOk!.id]);
        expect(await ids({ cold: false, outcome: 'success' })).toEqual([late!.id, warmOk!.id]);
        expect(await ids({ since: BASE_TS + 20_000, until: BASE_TS + 180_000 })).toEqual([
          timeout!.id,
          warmOk!.id,
          error!.id,
        ]);
        const pages = await collectPages((cursor) =>
          store.listInvocations({ functionName: fn, limit: 1, cursor, cold: false }),
        );
        expect(pages.flat().map((r) => r.id)).toEqual([late!.id, warmOk!.id, error!.id]);
      });

      it('buckets requests, errors, cold starts and p50/p99 durations', async () => {
        const fn = uniqueName('stats');
        await recordWindow(fn);
        const stats = await store.invocationStats({
          functionName: fn,
          since: BASE_TS,
          until: BASE_TS + 180_000,
          bucketMs: 60_000,
        });
        expect(stats).toEqual({
          records: 4,
          truncated: false,
          buckets: [
            statsBucket(BASE_TS, [3, 1, 1], [20, 30]),
            statsBucket(BASE_TS + 60_000, [0, 0, 0]),
            statsBucket(BASE_TS + 120_000, [1, 1, 1], [7, 7]),
          ],
        });
        const none = await store.invocationStats({
          functionName: uniqueName('no-records'),
          since: BASE_TS,
          until: BASE_TS + 60_000,
          bucketMs: 60_000,
        });
        expect(none.records).toBe(0);
        expect(none.buckets).toHaveLength(1);
      });
    });

    describe('hourly usage rollup and the cost report over it', () => {
      /** Floats computed by hand: equal to 12 significant digits (the sums are not bit-identical). */
      function expectClose(actual: number | null | undefined, expected: number): void {
        expect(actual).not.toBeNull();
        expect(Math.abs((actual ?? Number.NaN) - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-12);
      }

      /**
       * Two functions over two hours, recorded in two batches (one retried). By hand, per function
       * and hour (mbMs = billedMs × memoryMb, summed; peak memory = inFlight × memoryMb):
       * - a 10:00  a1 100 ms × 128 MB + a2 2000 ms × 128 MB (error, 2 in flight)   = 268,800 MB·ms
       * - a 11:00  a3 50 ms × 256 MB (3 in flight)                                  =  12,800 MB·ms
       * - b 10:00  b1 1500 ms × 1024 MB (timeout)                                    = 1,536,000 MB·ms
       * - b 11:00  b2 1 ms × 1024 MB + b3 999 ms × 1024 MB (2 in flight)            = 1,024,000 MB·ms
       */
      async function recordWorkload(): Promise<{ a: string; b: string }> {
        const a = uniqueName('usage-a');
        const b = uniqueName('usage-b');
        const at = (time: string) => `2031-03-04T${time}Z`;
        const a1 = invocation(a, { startedAt: at('10:15:00.000'), memoryMb: 128, billedMs: 100 });
        const a2 = invocation(a, {
          startedAt: at('10:59:59.999'),
          memoryMb: 128,
          billedMs: 2000,
          outcome: 'error',
          error: { type: 'Error', message: 'boom', stack: undefined },
          inFlight: 2,
        });
        const a3 = invocation(a, { startedAt: at('11:00:00.000'), memoryMb: 256, billedMs: 50, inFlight: 3 });
        const b1 = invocation(b, {
          startedAt: at('10:30:00.000'),
          memoryMb: 1024,
          billedMs: 1500,
          outcome: 'timeout',
          error: { type: 'TimeoutError', message: 'late', stack: undefined },
        });
        const b2 = invocation(b, { startedAt: at('11:20:00.000'), memoryMb: 1024, billedMs: 1 });
        const b3 = invocation(b, {
          startedAt: at('11:20:00.500'),
          memoryMb: 1024,
          billedMs: 999,
          inFlight: 2,
        });
        await store.recordInvocations([a1, b1, a3], []);
        // The second batch retries a1 (already stored): it must not be counted again.
        await store.recordInvocations([a2, a1, b2, b3], []);
        return { a, b };
      }

      const window = { since: '2031-03-04T10:00:00.000Z', until: '2031-03-04T12:00:00.000Z' };

      /** The window's rollup rows of these functions only (other tests may record in the same store). */
      async function usageOf(functionNames: string[]) {
        return (await store.listHourlyUsage(window)).filter((row) =>
          functionNames.includes(row.functionName),
        );
      }

      it('sums requests, billed ms, MB·ms and errors per function and start hour, keeping the peaks', async () => {
        const { a, b } = await recordWorkload();
        const usage = await usageOf([a, b]);
        expect(usage).toStrictEqual([
          {
            functionName: a,
            hourStart: '2031-03-04T10:00:00.000Z',
            requests: 2,
            billedMs: 2100,
            mbMs: 268_800,
            errors: 1,
            peakInFlight: 2,
            peakMemoryMb: 256,
          },
          {
            functionName: b,
            hourStart: '2031-03-04T10:00:00.000Z',
            requests: 1,
            billedMs: 1500,
            mbMs: 1_536_000,
            errors: 1,
            peakInFlight: 1,
            peakMemoryMb: 1024,
          },
          {
            functionName: a,
            hourStart: '2031-03-04T11:00:00.000Z',
            requests: 1,
            billedMs: 50,
            mbMs: 12_800,
            errors: 0,
            peakInFlight: 3,
            peakMemoryMb: 768,
          },
          {
            functionName: b,
            hourStart: '2031-03-04T11:00:00.000Z',
            requests: 2,
            billedMs: 1000,
            mbMs: 1_024_000,
            errors: 0,
            peakInFlight: 2,
            peakMemoryMb: 2048,
          },
        ]);
        // The window's ends: since inclusive, until exclusive, and one function alone.
        expect(
          await store.listHourlyUsage({
            since: '2031-03-04T11:00:00.000Z',
            until: window.until,
            functionName: a,
          }),
        ).toMatchObject([{ functionName: a, hourStart: '2031-03-04T11:00:00.000Z' }]);
        expect(
          await store.listHourlyUsage({
            since: window.since,
            until: '2031-03-04T11:00:00.000Z',
            functionName: b,
          }),
        ).toMatchObject([{ functionName: b, hourStart: '2031-03-04T10:00:00.000Z' }]);
      });

      it('prices the workload by hand-computed numbers at the default prices', async () => {
        const { a, b } = await recordWorkload();
        const usage = await usageOf([a, b]);
        const report = buildCostReport(
          usage,
          costWindow(Date.parse(window.since), Date.parse(window.until), 'hour'),
          DEFAULT_PRICES,
        );
        expect(report.since).toBe('2031-03-04T10:00:00.000Z');
        expect(report.until).toBe('2031-03-04T12:00:00.000Z');
        expect(report.prices).toStrictEqual({
          gbSecond: 0.0000166667,
          request: 0.2,
          vmHourly: 0.0416,
          vmMemoryMb: 4096,
        });
        // b costs more, so it comes first. GB-s = MB·ms / 1024 / 1000.
        expect(report.functions.map((fn) => fn.functionName)).toEqual([b, a]);
        const [costB, costA] = report.functions;
        expect(costB).toMatchObject({ requests: 3, billedMs: 2500, peakConcurrency: 2, errors: 1 });
        expectClose(costB?.gbSeconds, 2.5);
        // 2.5 × 0.0000166667 + 3 × 0.20 / 1M
        expectClose(costB?.cost, 0.00004226675);
        expect(costA).toMatchObject({ requests: 3, billedMs: 2150, peakConcurrency: 3, errors: 1 });
        expectClose(costA?.gbSeconds, 0.275);
        expectClose(costA?.cost, 0.0000051833425);
        expect(report.total).toMatchObject({ requests: 6, peakConcurrency: 5 });
        expectClose(report.total.gbSeconds, 2.775);
        expectClose(report.total.cost, 0.0000474500925);
        // Peak memory in flight: 11:00 with 768 + 2048 = 2816 MB, under one 4096 MB VM, for 2 hours.
        expect(report.vm).toMatchObject({ instances: 1, hours: 2 });
        expectClose(report.vm.cost, 0.0832);
        expect(report.vm.sizing).toContain('2816 MB');
        // 0.0416 / 3600 / (0.4625 GB-s × 0.0000166667 + 0.20 / 1M)
        expectClose(report.breakEven.requestsPerSecond, 1.461184366149198);
        expect(report.breakEven.formula).toBe(
          'requestsPerSecond = instances × vmHourly / 3600 / (gbSecondsPerRequest × gbSecond + request / 1000000)' +
            ' = 1 × 0.0416 / 3600 / (0.4625 × 0.0000166667 + 0.2 / 1000000) = 1.46118',
        );
        expect(report.series.map((point) => [point.start, point.requests])).toEqual([
          ['2031-03-04T10:00:00.000Z', 3],
          ['2031-03-04T11:00:00.000Z', 3],
        ]);
        expectClose(report.series[0]?.gbSeconds, 1.7625);
        expectClose(report.series[0]?.cost, 0.00002997505875);
        expectClose(report.series[1]?.gbSeconds, 1.0125);
        expectClose(report.series[1]?.cost, 0.00001747503375);
      });

      it('prices it by days and other prices, sizing the VMs for the peak', async () => {
        const { a, b } = await recordWorkload();
        const usage = await usageOf([a, b]);
        const report = buildCostReport(
          usage,
          costWindow(Date.parse(window.since), Date.parse(window.until), 'day'),
          {
            gbSecond: 0.00001,
            request: 1,
            vmHourly: 0.0416,
            vmMemoryMb: 1024,
          },
        );
        // The day starts at midnight: 12 hours of VMs; 2816 MB takes three of 1024 MB.
        expect(report.since).toBe('2031-03-04T00:00:00.000Z');
        expect(report.vm).toMatchObject({ instances: 3, hours: 12 });
        expectClose(report.vm.cost, 1.4976);
        expectClose(report.functions[0]?.cost, 0.000028); // b: 2.5 × 0.00001 + 3 / 1M
        expectClose(report.functions[1]?.cost, 0.00000575); // a: 0.275 × 0.00001 + 3 / 1M
        // 3 × 0.0416 / 3600 / (0.4625 × 0.00001 + 1 / 1M)
        expectClose(report.breakEven.requestsPerSecond, 6.162962962962962);
        expect(report.series).toHaveLength(1);
        expect(report.series[0]).toMatchObject({ start: '2031-03-04T00:00:00.000Z', requests: 6 });
        expectClose(report.series[0]?.gbSeconds, 2.775);
      });

      it('goes with its function', async () => {
        const { a, b } = await recordWorkload();
        await publish(a);
        expect(await store.deleteFunction(a)).toBe(true);
        const left = await usageOf([a, b]);
        expect(left.map((row) => row.functionName)).toEqual([b, b]);
      });
    });

    describe('listLogs', () => {
      /** Two invocations of one function, lines 0-4 of `first` then 0-4 of `second`, plus noise. */
      async function seedLogs(): Promise<{ fn: string; first: string; second: string; lines: LogLine[] }> {
        const fn = uniqueName('logs');
        const first = randomUUID();
        const second = randomUUID();
        const messages = [
          '100% done',
          'file_name.ts',
          'ERROR: Disk Full',
          'disk full again',
          'plain',
          'wow!',
        ];
        const lines = [
          ...Array.from({ length: 5 }, (_, seq) =>
            logLine(first, fn, seq, { ts: BASE_TS + seq, message: messages[seq] ?? '' }),
          ),
          ...Array.from({ length: 5 }, (_, seq) =>
            logLine(second, fn, seq, {
              ts: BASE_TS + 100 + seq,
              level: seq % 2 === 0 ? 'warn' : 'error',
              message: messages[(seq + 1) % messages.length] ?? '',
            }),
          ),
        ];
        const noise = randomUUID();
        await store.recordInvocations(
          [
            invocation(fn, { id: first }),
            invocation(fn, { id: second }),
            invocation(uniqueName('noise'), { id: noise }),
          ],
          [...lines, logLine(noise, 'someone-else', 0, { message: 'disk full' })],
        );
        return { fn, first, second, lines };
      }

      it('returns one function’s lines oldest first with every field intact', async () => {
        const { fn, lines } = await seedLogs();
        const listed = await store.listLogs({ functionName: fn, limit: 100 });
        expect(listed).toStrictEqual(lines);
        expect(typeof listed[0]?.ts).toBe('number');
      });

      it('filters by invocation', async () => {
        const { fn, second, lines } = await seedLogs();
        const listed = await store.listLogs({ functionName: fn, invocationId: second, limit: 100 });
        expect(listed).toStrictEqual(lines.filter((l) => l.invocationId === second));
      });

      it('filters by time: since inclusive, until exclusive', async () => {
        const { fn } = await seedLogs();
        const listed = await store.listLogs({
          functionName: fn,
          since: BASE_TS + 3,
          until: BASE_TS + 101,
          limit: 100,
        });
        expect(listed.map((l) => l.ts)).toEqual([BASE_TS + 3, BASE_TS + 4, BASE_TS + 100]);
      });

      it('matches text case-insensitively and literally', async () => {
        const { fn } = await seedLogs();
        const texts = async (text: string): Promise<string[]> =>
          (await store.listLogs({ functionName: fn, text, limit: 100 })).map((l) => l.message);
        expect(await texts('disk FULL')).toEqual([
          'ERROR: Disk Full',
          'disk full again',
          'ERROR: Disk Full',
          'disk full again',
        ]);
        // Wildcards in the query are plain characters, not LIKE patterns.
        expect(await texts('%')).toEqual(['100% done']);
        expect(await texts('0% D')).toEqual(['100% done']);
        expect(await texts('_')).toEqual(['file_name.ts', 'file_name.ts']);
        expect(await texts('0%_d')).toEqual([]);
        expect(await texts('!')).toEqual(['wow!']);
        expect(await texts('e_n')).toEqual(['file_name.ts', 'file_name.ts']);
        expect(await texts('d_ne')).toEqual([]);
      });

      it('matches text case-insensitively beyond ASCII', async () => {
        const fn = uniqueName('unicode');
        const call = invocation(fn);
        const messages = ['ÉCHEC du paiement', 'Straße Ünïcode', 'plain ascii'];
        await store.recordInvocations(
          [call],
          messages.map((message, seq) => logLine(call.id, fn, seq, { message })),
        );
        const texts = async (text: string): Promise<string[]> =>
          (await store.listLogs({ functionName: fn, text, limit: 100 })).map((l) => l.message);
        expect(await texts('échec')).toEqual(['ÉCHEC du paiement']);
        expect(await texts('ünïCODE')).toEqual(['Straße Ünïcode']);
        expect(await texts('STRASSE')).toEqual([]);
      });

      it('combines the function, invocation, time and text filters', async () => {
        const { fn, second } = await seedLogs();
        const listed = await store.listLogs({
          functionName: fn,
          invocationId: second,
          since: BASE_TS + 101,
          until: BASE_TS + 104,
          text: 'DISK',
          limit: 100,
        });
        // second's lines 1-3 are in the window: 'ERROR: Disk Full', 'disk full again', 'plain'.
        expect(listed.map((l) => [l.seq, l.message])).toEqual([
          [1, 'ERROR: Disk Full'],
          [2, 'disk full again'],
        ]);
        expect(
          await store.listLogs({ functionName: 'someone-else', invocationId: second, limit: 9 }),
        ).toEqual([]);
      });

      it('keeps the newest `limit` lines, still in ascending order', async () => {
        const { fn, first, lines } = await seedLogs();
        expect(await store.listLogs({ functionName: fn, limit: 3 })).toStrictEqual(lines.slice(-3));
        const ofFirst = lines.filter((l) => l.invocationId === first);
        expect(await store.listLogs({ functionName: fn, invocationId: first, limit: 2 })).toStrictEqual(
          ofFirst.slice(-2),
        );
        expect(await store.listLogs({ functionName: fn, text: 'disk', limit: 1 })).toStrictEqual([
          lines.filter((l) => l.message.toLowerCase().includes('disk')).at(-1),
        ]);
      });

      it('records a big batch (3,000 invocations, 5,000 lines) in one call', async () => {
        const fn = uniqueName('bulk');
        // 3,000 x 14 columns is past SQLite's 32,766 bind parameters: the store must chunk.
        const records = Array.from({ length: 3_000 }, (_, i) =>
          invocation(fn, { startedAt: new Date(BASE_TS + i).toISOString() }),
        );
        const lines = Array.from({ length: 5_000 }, (_, i) => {
          const call = records[i % records.length];
          return logLine(call?.id ?? '', fn, Math.floor(i / records.length), {
            ts: BASE_TS + i,
            message: `bulk line ${i} ${'x'.repeat(i % 50)}`,
          });
        });
        await store.recordInvocations(records, lines);

        const all = await store.listLogs({ functionName: fn, limit: 10_000 });
        expect(all).toHaveLength(5_000);
        expect(all.map((l) => l.ts)).toEqual(lines.map((l) => l.ts));
        expect(await store.listLogs({ functionName: fn, limit: 100 })).toStrictEqual(lines.slice(-100));
        const newest = await store.listInvocations({ functionName: fn, limit: 1 });
        expect(newest.items[0]).toStrictEqual(records.at(-1));
        expect(await store.deleteFunction(fn)).toBe(false);
        expect(await store.listLogs({ functionName: fn, limit: 10 })).toEqual([]);
      });
    });

    describe('log retention', () => {
      /** `count` lines of `bytes` ASCII bytes each, one per millisecond from `firstTs`, in one invocation. */
      async function seedLines(
        fn: string,
        firstTs: number,
        count: number,
        bytes: number,
      ): Promise<LogLine[]> {
        const call = invocation(fn);
        const lines = Array.from({ length: count }, (_, seq) =>
          logLine(call.id, fn, seq, { ts: firstTs + seq, message: `${seq}`.padEnd(bytes, '.') }),
        );
        await store.recordInvocations([call], lines);
        return lines;
      }

      it('keeps running totals of lines and UTF-8 message bytes, per function and overall', async () => {
        const fn = uniqueName('usage');
        const other = uniqueName('usage-other');
        const before = await store.logUsage();
        const call = invocation(fn);
        // 'héllo' is 6 bytes in UTF-8, '日本' 6, 'ok' 2.
        const lines = [
          logLine(call.id, fn, 0, { message: 'héllo' }),
          logLine(call.id, fn, 1, { message: '日本' }),
          logLine(call.id, fn, 2, { message: 'ok' }),
        ];
        await store.recordInvocations([call], lines);
        // A retried batch inserts nothing, so it adds nothing.
        await store.recordInvocations([call], lines);
        await seedLines(other, BASE_TS, 2, 10);
        expect(await store.logUsage(fn)).toEqual({ lines: 3, bytes: 14 });
        expect(await store.logUsage(other)).toEqual({ lines: 2, bytes: 20 });
        expect(await store.logUsage()).toEqual({ lines: before.lines + 5, bytes: before.bytes + 34 });
        expect(await store.logUsage(uniqueName('never-logged'))).toEqual({ lines: 0, bytes: 0 });

        await store.deleteFunction(fn);
        expect(await store.logUsage(fn)).toEqual({ lines: 0, bytes: 0 });
        expect(await store.logUsage()).toEqual({ lines: before.lines + 2, bytes: before.bytes + 20 });
        await store.deleteFunction(other);
      });

      it('expires lines older than a time, oldest first, at most `limit` per call', async () => {
        const fn = uniqueName('expire');
        // Older than anything other tests store (they log around BASE_TS).
        const old = await seedLines(fn, 100, 10, 8);
        const kept = await seedLines(fn, 1000, 5, 8);

        expect(await store.expireLogs({ before: 1000, limit: 4 })).toEqual({ lines: 4, bytes: 32 });
        expect(await store.listLogs({ functionName: fn, limit: 100 })).toStrictEqual([
          ...old.slice(4),
          ...kept,
        ]);
        expect(await store.expireLogs({ before: 1000, limit: 4 })).toEqual({ lines: 4, bytes: 32 });
        expect(await store.expireLogs({ before: 1000, limit: 4 })).toEqual({ lines: 2, bytes: 16 });
        expect(await store.expireLogs({ before: 1000, limit: 4 })).toEqual({ lines: 0, bytes: 0 });
        expect(await store.listLogs({ functionName: fn, limit: 100 })).toStrictEqual(kept);
        expect(await store.logUsage(fn)).toEqual({ lines: 5, bytes: 40 });
        await store.deleteFunction(fn);
      });

      it('trims the oldest lines of the whole store to a byte cap, exactly as many as needed', async () => {
        const fn = uniqueName('trim');
        const lines = await seedLines(fn, 10, 10, 10);
        const total = (await store.logUsage()).bytes;

        expect(await store.trimLogs({ maxBytes: total, limit: 100 })).toEqual({ lines: 0, bytes: 0 });
        // 35 bytes over: four 10-byte lines go, the oldest ones (this test's lines are the store's oldest).
        expect(await store.trimLogs({ maxBytes: total - 35, limit: 100 })).toEqual({ lines: 4, bytes: 40 });
        expect(await store.listLogs({ functionName: fn, limit: 100 })).toStrictEqual(lines.slice(4));
        expect(await store.logUsage()).toMatchObject({ bytes: total - 40 });
        // A cap far below the total deletes one batch per call, still oldest first.
        expect(await store.trimLogs({ maxBytes: 0, limit: 2 })).toEqual({ lines: 2, bytes: 20 });
        expect(await store.listLogs({ functionName: fn, limit: 100 })).toStrictEqual(lines.slice(6));
        expect(await store.logUsage(fn)).toEqual({ lines: 4, bytes: 40 });
        await store.deleteFunction(fn);
      });

      it('refuses a limit that is not a positive integer', async () => {
        await expect(store.expireLogs({ before: 1, limit: 0 })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
        await expect(store.trimLogs({ maxBytes: 1, limit: 1.5 })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
      });
    });
  });
}
