import { expect } from 'vitest';
import type { TestServer } from '../../helpers/server.js';
import { dockerSaveArchive } from '../../helpers/oci-image-archives.js';
import { busyboxBootstrapScript, busyboxRuntimeImage } from '../../helpers/oci-runtime-images.js';
import { zipOf } from '../../helpers/zip.js';

/** Settings both confining tiers take on a deploy. */
export interface ShellFunctionSettings {
  memoryMb?: number;
  timeout?: string;
  /** Host patterns the function may reach through its egress proxy. */
  egress?: string[];
}

/**
 * Deploys `handler` (POSIX sh, run once per invocation with `$1` = the event file; what it prints is the
 * response) as a `provided.al2023` zip on the process tier. The runtime loop is the container images'
 * busybox one, which runs on the host's sh and wget just as well, so both tiers run the same shell.
 * `files` land beside the bootstrap in /var/task, executable.
 */
export type ShellDeployer = (
  server: TestServer,
  name: string,
  handler: string,
  files?: Record<string, Buffer>,
  settings?: ShellFunctionSettings,
) => Promise<void>;

export const deployProcessShell: ShellDeployer = async (server, name, handler, files = {}, settings = {}) => {
  const zip = await zipOf({ bootstrap: busyboxBootstrapScript(handler), ...files }, Object.keys(files));
  const response = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ zipFile: zip.toString('base64'), runtime: 'provided.al2023', ...settings }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
};

/** The same as {@link deployProcessShell} on the container tier: a busybox image imported as an archive. */
export const deployContainerShell: ShellDeployer = async (
  server,
  name,
  handler,
  files = {},
  settings = {},
) => {
  const image = await busyboxRuntimeImage({
    script: handler,
    extraLayers:
      Object.keys(files).length === 0
        ? []
        : [
            Object.entries(files).map(([file, content]) => ({
              path: `var/task/${file}`,
              content,
              mode: 0o755,
            })),
          ],
  });
  const imported = await server.client.importImageArchive(await dockerSaveArchive(image));
  await server.client.deploy(name, { image: imported.imageId, ...settings });
};

export type ShellTier = 'process' | 'container';

export function deployShell(tier: ShellTier, ...args: Parameters<typeof deployProcessShell>): Promise<void> {
  return tier === 'process' ? deployProcessShell(...args) : deployContainerShell(...args);
}
