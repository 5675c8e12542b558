import { describe, expect, it } from 'vitest';
import { nodeHandlerSchema, parseLambdaHandler } from './lambda-handler.js';

describe('Lambda handler strings', () => {
  it('splits path/to/file.exportName like the Node runtime', () => {
    expect(parseLambdaHandler('index.handler')).toEqual({ modulePath: 'index', exportPath: 'handler' });
    expect(parseLambdaHandler('src/app.main')).toEqual({ modulePath: 'src/app', exportPath: 'main' });
    expect(parseLambdaHandler('a/b.c/file.handlers.main')).toEqual({
      modulePath: 'a/b.c/file',
      exportPath: 'handlers.main',
    });
    expect(parseLambdaHandler('my-fn_1.$handler')).toEqual({ modulePath: 'my-fn_1', exportPath: '$handler' });
  });

  it('explains what is wrong with a malformed handler', () => {
    for (const bad of ['', 'index', 'index.', '.handler', 'src/', 'a b.handler', 'x'.repeat(129) + '.h']) {
      expect(typeof parseLambdaHandler(bad)).toBe('string');
    }
    expect(parseLambdaHandler('../up.handler')).toMatch(/relative path inside/);
    expect(parseLambdaHandler('/abs/file.handler')).toMatch(/relative path inside/);
    expect(parseLambdaHandler('a/./b.handler')).toMatch(/relative path inside/);
    expect(parseLambdaHandler('index.1bad')).toMatch(/JavaScript export name/);
    expect(parseLambdaHandler('index')).toMatch(/path\/to\/file\.exportName/);
  });

  it('checks handlers at the boundary with the same rules', () => {
    expect(nodeHandlerSchema.safeParse('index.handler').success).toBe(true);
    const parsed = nodeHandlerSchema.safeParse('index');
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/e\.g\. index\.handler/);
  });
});
