import { describe, expect, it } from 'vitest';
import { REDACTED, SecretRedactor } from './secret-redactor.js';

describe('SecretRedactor', () => {
  it('blanks every occurrence, inside JSON strings too, longest value first', () => {
    const redactor = new SecretRedactor(['hunter2-pass', 'hunter2-pass-extended', 'qu"ote\\x']);
    expect(redactor.redact('a hunter2-pass b hunter2-pass')).toBe(`a ${REDACTED} b ${REDACTED}`);
    expect(redactor.redact('hunter2-pass-extended!')).toBe(`${REDACTED}!`);
    expect(redactor.redact(JSON.stringify({ token: 'qu"ote\\x' }))).toBe(`{"token":"${REDACTED}"}`);
    expect(redactor.redact('nothing here')).toBe('nothing here');
  });

  it('leaves values too short to redact safely', () => {
    const redactor = new SecretRedactor(['on', '1']);
    expect(redactor.empty).toBe(true);
    expect(redactor.redact('turn it on 1 time')).toBe('turn it on 1 time');
  });
});
