// Container-image functions for `npm run bench`, end to end over HTTP against a real server and a real
// registry: the time to deploy an image the node has never seen, cold starts with the image cached, and warm
// throughput. The server runs with STRATO_IMAGE_WARM_UP=false, so every new version's first call is cold.
import { AUTHORIZATION, BENCH_API_KEY } from './bench-key.js';
import path from 'node:path';
import { StratoClient } from '../src/client/strato-client.js';
import { buildImage } from '../test/helpers/oci-image-build.js';
import { busyboxBaseLayer, busyboxBootstrapScript } from '../test/helpers/oci-runtime-images.js';
import type { BuiltImage } from '../test/helpers/oci-image-types.js';
import { pushImage, startRegistry } from '../test/helpers/oci-registry.js';
import { startListening, stopChild } from './child-server.js';
import { loadTest, request, type LoadResult } from './http-load.js';
import { p50p99 } from './process-tier.js';

export interface ContainerRows {
  row(what: string, reqs: string, p50: string, p99: string, note?: string): void;
  loadRow(what: string, result: LoadResult, baseline?: LoadResult): void;
  fmt(n: number, digits?: number): string;
}

const DEPLOY_SAMPLES = 5;

/**
 * A busybox image with the wget Runtime API loop; `salt` goes into both layers, so no layer of it is cached
 * anywhere yet (an uncached deploy must fetch and unpack everything).
 */
function benchImage(salt: string): Promise<BuiltImage> {
  return buildImage({
    layers: [
      [...busyboxBaseLayer(), { path: `etc/bench-salt`, content: salt }],
      [
        { path: 'var/', type: 'dir' },
        { path: 'var/task/', type: 'dir' },
        {
          path: 'var/task/bootstrap',
          content: `${busyboxBootstrapScript(`printf '{"ok":true}'`)}# ${salt}\n`,
          mode: 0o755,
        },
      ],
    ],
    config: {
      entrypoint: ['/var/task/bootstrap'],
      env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
      workingDir: '/var/task',
    },
  });
}

async function deploy(baseUrl: string, name: string, body: object): Promise<void> {
  const response = await fetch(`${baseUrl}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`deploy ${name}: ${response.status} ${await response.text()}`);
}

export async function containerTierRows(
  out: ContainerRows,
  rawUrl: string,
  dataDir: string,
  coldSamples: number,
  seconds: number,
): Promise<void> {
  const registry = await startRegistry();
  const server = await startListening(
    ['bin/strato.js', 'server', '--port', '0', '--data-dir', path.join(dataDir, 'container-bench')],
    { STRATO_LOG_LEVEL: 'warn', STRATO_IMAGE_WARM_UP: 'false' },
  );
  try {
    const run = Math.random().toString(36).slice(2, 8);
    // (1) Deploy of an image whose layers the node has never seen: resolve, pull, unpack, assemble, publish.
    const deployMs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < DEPLOY_SAMPLES; i++) {
      const image = await benchImage(`${run}-${i}`);
      bytes = image.layers.reduce((sum, layer) => sum + layer.bytes.length, 0);
      await pushImage(registry.host, `bench/deploy-${i}`, 'v1', image);
      const startedAt = performance.now();
      await deploy(server.url, `cdeploy-${i}`, { image: `${registry.host}/bench/deploy-${i}:v1` });
      deployMs.push(performance.now() - startedAt);
    }
    const [deployP50] = p50p99(deployMs);
    out.row(
      `container deploy, uncached image, n=${DEPLOY_SAMPLES}`,
      '',
      out.fmt(deployP50),
      out.fmt(Math.max(...deployMs)),
      `p99 column is the max; 2 layers, ${out.fmt(bytes / 1024 / 1024, 1)} MB gzipped, registry on loopback`,
    );

    // (2) Cold starts with the image cached: each sample is a new version (same image) and its first call.
    const image = await benchImage(`${run}-cold`);
    await pushImage(registry.host, 'bench/cold', 'v1', image);
    const reference = `${registry.host}/bench/cold:v1`;
    await deploy(server.url, 'ccold', { image: reference });
    const client = new StratoClient(server.url, { apiKey: () => BENCH_API_KEY });
    const endToEnd: number[] = [];
    for (let i = 0; i < coldSamples; i++) {
      await client.updateSettings('ccold', { description: `sample ${i}` });
      // Lets the forwarder pool refill after the previous sample, as between two real cold starts.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const startedAt = process.hrtime.bigint();
      const response = await request(`${server.url}/v1/functions/ccold/invoke`, 'POST', '{}');
      endToEnd.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
      if (response.status !== 200) throw new Error(`cold invoke failed: ${response.status} ${response.body}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { invocations } = await client.listInvocations('ccold', { limit: coldSamples });
    const cold = invocations.filter((invocation) => invocation.cold);
    const [p50, p99] = p50p99(endToEnd);
    const [initP50, initP99] = p50p99(cold.map((invocation) => invocation.initDurationMs));
    out.row(
      `container cold start, image cached, end to end, n=${coldSamples}`,
      '',
      out.fmt(p50),
      out.fmt(p99),
      `${cold.length}/${coldSamples} cold; init p50 ${out.fmt(initP50, 1)} p99 ${out.fmt(initP99, 1)}; target p50 <= 60`,
    );

    // (3) Warm throughput against raw node:http at the same connections.
    for (const connections of [1, 4]) {
      await deploy(server.url, `cwarm-${connections}`, { image: reference, concurrency: connections });
      const url = `${server.url}/v1/functions/cwarm-${connections}/invoke`;
      await loadTest({ url, method: 'POST', body: '{}', connections, seconds: 1 });
      const warm = await loadTest({ url, method: 'POST', body: '{}', connections, seconds });
      const rawRun = await loadTest({ url: rawUrl, connections, seconds });
      out.loadRow(`raw node:http "ok", ${connections} conn`, rawRun);
      out.loadRow(`container warm invoke, busybox sh, ${connections} conn`, warm, rawRun);
    }
  } finally {
    await stopChild(server.child);
    await registry.stop();
  }
}
