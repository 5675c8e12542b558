#!/usr/bin/env node
// The `strato` command: runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
await import('../dist/cli/main.js');
