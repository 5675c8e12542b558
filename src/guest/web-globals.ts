/**
 * Typed access to the Web API globals that `installWebApis` defines. The runtime reads them through
 * these narrow shapes (captured at start, before user code can replace the globals) instead of
 * depending on the classes' modules, so guest adapters stay independent of how the APIs are built.
 */
export interface ResponseShape {
  status: number;
  headers: Iterable<[string, string]>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface RequestInitShape {
  method: string;
  headers: Array<[string, string]>;
  body: Uint8Array | string | null;
}

export interface WebGlobals {
  Request: new (url: string, init: RequestInitShape) => unknown;
  Response: abstract new (...args: never[]) => ResponseShape;
  TextEncoder: new () => { encode(text: string): Uint8Array };
  TextDecoder: new () => { decode(bytes: Uint8Array): string };
}

export function captureWebGlobals(global: Record<string, unknown>): WebGlobals {
  const pick = <K extends keyof WebGlobals>(name: K): WebGlobals[K] => {
    const value = global[name];
    if (typeof value !== 'function') throw new Error(`guest runtime: ${name} is not installed`);
    return value as WebGlobals[K];
  };
  return {
    Request: pick('Request'),
    Response: pick('Response'),
    TextEncoder: pick('TextEncoder'),
    TextDecoder: pick('TextDecoder'),
  };
}
