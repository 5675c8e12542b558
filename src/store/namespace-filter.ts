import { sql, type SelectQueryBuilder } from 'kysely';
import { DEFAULT_NAMESPACE } from '../core/api-key.js';
import { namespacePrefix } from '../core/namespace.js';
import type { Database } from './schema.js';

/**
 * Rows whose function belongs to `namespace`: names with its prefix, or for `default` names with no dot.
 * Namespaces are `[a-z0-9-]`, so the prefix holds no LIKE wildcard.
 */
export function whereInNamespace<T extends keyof Database, O>(
  query: SelectQueryBuilder<Database, T, O>,
  namespace: string,
  column: 'name' | 'function_name' = 'name',
): SelectQueryBuilder<Database, T, O> {
  // The column is checked by its type here; Kysely cannot follow a column name chosen at run time.
  const ref = sql.ref(column);
  return namespace === DEFAULT_NAMESPACE
    ? query.where(sql<boolean>`${ref} not like ${'%.%'}`)
    : query.where(sql<boolean>`${ref} like ${`${namespacePrefix(namespace)}%`}`);
}
