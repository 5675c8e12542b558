import { describe, expect, it } from 'vitest';
import { nodePermissionFlags } from './node-permission.js';

const scope = { read: ['/var/task', '/var/runtime'], readWrite: ['/tmp'] };
const node20 = new Set([
  '--experimental-permission',
  '--allow-fs-read',
  '--allow-fs-write',
  '--allow-addons',
  '--allow-worker',
  '--disable-warning',
]);

describe('Node permission-model flags', () => {
  it('uses --experimental-permission on Node 20, one flag per path, and allows addons', () => {
    expect(nodePermissionFlags({ flags: node20 }, scope)).toEqual([
      '--experimental-permission',
      '--allow-fs-read=/var/task/',
      '--allow-fs-read=/var/runtime/',
      '--allow-fs-read=/tmp/',
      '--allow-fs-write=/tmp/',
      '--allow-addons',
      '--allow-worker',
      '--disable-warning=ExperimentalWarning',
      '--disable-warning=SecurityWarning',
    ]);
  });

  it('uses --permission where the binary has it (Node 22.13+, 24), without hiding experimental warnings', () => {
    const node24 = new Set([...node20, '--permission']);
    const flags = nodePermissionFlags({ flags: node24 }, scope);
    expect(flags[0]).toBe('--permission');
    expect(flags).not.toContain('--experimental-permission');
    expect(flags).not.toContain('--disable-warning=ExperimentalWarning');
    expect(flags).toContain('--disable-warning=SecurityWarning');
  });

  it('prefers native addons over the permission model where a Node cannot have both, and skips unknown flags', () => {
    const noAddons = new Set([...node20].filter((flag) => flag !== '--allow-addons'));
    expect(nodePermissionFlags({ flags: noAddons }, scope)).toEqual([]);
    expect(nodePermissionFlags({ flags: new Set() }, scope)).toEqual([]);
    const noDisable = new Set([...node20].filter((flag) => flag !== '--disable-warning'));
    expect(nodePermissionFlags({ flags: noDisable }, scope).some((f) => f.startsWith('--disable'))).toBe(
      false,
    );
  });
});
