import type { Logger } from 'pino';
import {
  MAX_SECRET_VALUE_BYTES,
  MAX_SECRETS_PER_FUNCTION,
  SECRET_NAME_PATTERN,
  type SecretRecord,
  type StoredSecret,
} from '../core/secret.js';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { SecretCipher } from './secret-cipher.js';
import { SecretRedactor } from './secret-redactor.js';

/**
 * Names a secret may not take: the variables every tier sets itself (the Lambda execution environment's,
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
 * which a secret would silently lose to, or break the runtime by replacing.
 */
const RESERVED_NAME =
  /^(_|AWS_LAMBDA_|LAMBDA_)|^(AWS_REGION|AWS_DEFAULT_REGION|AWS_EXECUTION_ENV|PATH|LD_LIBRARY_PATH|TZ|LANG)$/;

/** A function's decrypted secrets as this node holds them. */
export interface FunctionSecrets {
  /** Changes whenever the function's secrets change; instances started with another generation are not reused. */
  readonly generation: number;
  readonly values: Readonly<Record<string, string>>;
  readonly redactor: SecretRedactor;
}

interface Entry {
  secrets: FunctionSecrets;
  /** Ciphertexts the entry was made from, to tell a changed row on refresh. */
  fingerprint: string;
  /** Set when a row did not decrypt: the function does not start without it. */
  error: StratoError | undefined;
}

export interface SecretServiceOptions {
  store: Store;
  cipher: SecretCipher;
  logger: Logger;
  /** A function's secrets changed through this node (its idle instances hold the old values). */
  onChanged: (functionName: string) => void;
  /**
   * How often to reload every secret from the store, for changes made through other nodes; 0 never (one
   * node: every change goes through it). @default 0
   */
  refreshMs?: number;
}

/**
 * Sets, lists and deletes secrets, and keeps every function's secrets decrypted in memory for the invoke
 * path (one map lookup per invocation). Values only ever leave it towards a sandbox being started.
 */
export class SecretService {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** False while the first load runs: nothing has started with old values yet. */
  private ready = false;

  private constructor(private readonly options: SecretServiceOptions) {}

  static async open(options: SecretServiceOptions): Promise<SecretService> {
    const service = new SecretService(options);
    await service.refresh();
    service.ready = true;
    const refreshMs = options.refreshMs ?? 0;
    if (refreshMs > 0) {
      service.refreshTimer = setInterval(() => {
        service
          .refresh()
          .catch((error: unknown) => options.logger.error({ err: error }, 'reloading secrets failed'));
      }, refreshMs);
      service.refreshTimer.unref();
    }
    return service;
  }

  close(): void {
    clearInterval(this.refreshTimer);
  }

  /**
   * The secrets a new instance of the function gets, or undefined when it has none. Throws
   * SECRET_DECRYPT_FAILED when one of them does not decrypt: running without it would be worse.
   */
  secretsOf(functionName: string): FunctionSecrets | undefined {
    const entry = this.entries.get(functionName);
    if (entry === undefined) return undefined;
    if (entry.error !== undefined) throw entry.error;
    return entry.secrets;
  }

  async set(
    functionName: string,
    name: string,
    value: string,
  ): Promise<{ secret: SecretRecord; created: boolean }> {
    checkName(name);
    checkValue(name, value);
    const existing = await this.options.store.listSecrets(functionName);
    if (existing.length >= MAX_SECRETS_PER_FUNCTION && !existing.some((secret) => secret.name === name)) {
      throw new StratoError(
        'VALIDATION_FAILED',
        `function '${functionName}' already has ${MAX_SECRETS_PER_FUNCTION} secrets, the most it may hold`,
      );
    }
    const ciphertext = this.options.cipher.encrypt(value, { functionName, name });
    const result = await this.options.store.putSecret({
      functionName,
      name,
      ciphertext,
      now: new Date().toISOString(),
    });
    await this.reload(functionName);
    return result;
  }

  /** FUNCTION_NOT_FOUND for an unknown function. */
  async list(functionName: string): Promise<SecretRecord[]> {
    await this.requireFunction(functionName);
    return this.options.store.listSecrets(functionName);
  }

  /** SECRET_NOT_FOUND (or FUNCTION_NOT_FOUND) when there is nothing to delete. */
  async delete(functionName: string, name: string): Promise<void> {
    checkName(name);
    if (!(await this.options.store.deleteSecret(functionName, name))) {
      await this.requireFunction(functionName);
      throw new StratoError('SECRET_NOT_FOUND', `function '${functionName}' has no secret '${name}'`);
    }
    await this.reload(functionName);
  }

  /** Reloads one function's secrets after a change to it (a deleted function's went with it). */
  async reloadFunction(functionName: string): Promise<void> {
    this.replace(functionName, await this.options.store.loadSecrets({ functionName }));
  }

  /** Reloads every secret from the store; functions whose secrets changed get a new generation. */
  async refresh(): Promise<void> {
    const rows = await this.options.store.loadSecrets({});
    const byFunction = groupByFunction(rows);
    for (const name of this.entries.keys()) {
      if (!byFunction.has(name)) this.replace(name, []);
    }
    for (const [name, secrets] of byFunction) this.replace(name, secrets);
  }

  private async reload(functionName: string): Promise<void> {
    this.replace(functionName, await this.options.store.loadSecrets({ functionName }));
  }

  private replace(functionName: string, rows: StoredSecret[]): void {
    const fingerprint = rows.map((row) => `${row.name}=${row.ciphertext}`).join('\n');
    const current = this.entries.get(functionName);
    if ((current?.fingerprint ?? '') === fingerprint) return;
    if (rows.length === 0) {
      this.entries.delete(functionName);
      this.notify(functionName);
      return;
    }
    const values: Record<string, string> = {};
    let error: StratoError | undefined;
    for (const row of rows) {
      try {
        values[row.name] = this.options.cipher.decrypt(row.ciphertext, { functionName, name: row.name });
      } catch (cause) {
        error =
          cause instanceof StratoError ? cause : new StratoError('SECRET_DECRYPT_FAILED', String(cause));
        this.options.logger.error({ functionName, secret: row.name }, error.message);
      }
    }
    this.generation += 1;
    this.entries.set(functionName, {
      secrets: { generation: this.generation, values, redactor: new SecretRedactor(Object.values(values)) },
      fingerprint,
      error,
    });
    this.notify(functionName);
  }

  private notify(functionName: string): void {
    if (this.ready) this.options.onChanged(functionName);
  }

  private async requireFunction(functionName: string): Promise<void> {
    if ((await this.options.store.getFunction(functionName)) === undefined) {
      throw new StratoError('FUNCTION_NOT_FOUND', `function '${functionName}' does not exist`);
    }
  }
}

function checkName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new StratoError(
      'INVALID_NAME',
      'secret names are 1-128 letters, digits and _, not starting with a digit (environment variable names)',
    );
  }
  if (RESERVED_NAME.test(name)) {
    throw new StratoError('INVALID_NAME', `'${name}' is set by the runtime itself and cannot be a secret`);
  }
}

function checkValue(name: string, value: string): void {
  if (value.length === 0) throw new StratoError('VALIDATION_FAILED', `secret '${name}' has an empty value`);
  if (value.includes('\0')) {
    throw new StratoError(
      'VALIDATION_FAILED',
      `secret '${name}' holds a NUL byte, which no environment can carry`,
    );
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_VALUE_BYTES) {
    throw new StratoError(
      'PAYLOAD_TOO_LARGE',
      `secret '${name}' is larger than ${MAX_SECRET_VALUE_BYTES} bytes`,
    );
  }
}

function groupByFunction(rows: StoredSecret[]): Map<string, StoredSecret[]> {
  const out = new Map<string, StoredSecret[]>();
  for (const row of rows) {
    const list = out.get(row.functionName);
    if (list === undefined) out.set(row.functionName, [row]);
    else list.push(row);
  }
  return out;
}
