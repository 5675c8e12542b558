export * from './error-codes.js';
export * from './strato-error.js';
export * from './function.js';
export * from './invocation.js';
export * from './store.js';
export * from './sandbox.js';
export * from './container-image.js';
export * from './usage.js';
