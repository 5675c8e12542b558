export { KyselyStore } from './kysely-store.js';
export type { KyselyStoreOptions } from './kysely-store.js';
export { openSqliteStore } from './sqlite-store.js';
export type { SqliteStoreOptions } from './sqlite-store.js';
export { openPostgresStore } from './postgres-store.js';
export type { PostgresStoreOptions } from './postgres-store.js';
