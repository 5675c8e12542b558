import { existsSync } from 'node:fs';
import { describeConfinedEscapeCorpus } from './support/confined-escape.js';

// The sandbox-escape corpus against the container tier (crun or runc, a busybox image with the probe).
//
// That a case can fail: the container's root is the image and its only network is the forwarder's
// loopback, so `connect_host_listener` is ENETUNREACH; give the container the host's network namespace
// (drop the forwarder's netns from src/sandbox/container/oci-spec.ts) and it reports ESCAPED. Mounts and
// unshare are refused twice over: no capabilities, and the seccomp denylist (seccomp-profile.ts).
const runtime = ['/usr/bin/crun', '/usr/sbin/runc', '/usr/bin/runc'].find((file) => existsSync(file));
describeConfinedEscapeCorpus(
  'container',
  runtime === undefined ? 'neither crun nor runc is installed' : undefined,
);
