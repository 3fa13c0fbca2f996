import { randomUUID } from 'node:crypto';
import { isSafeSubjectToken, subjectsFor } from './subjects';

describe('NATS subjects', () => {
  const subjects = subjectsFor('switchyard');

  it('puts a clinic id (a UUID) in the inbound subject under a versioned prefix', () => {
    const id = randomUUID();
    expect(subjects.inbound(id)).toBe(`switchyard.in.v1.${id}`);
    expect(subjects.inboundWildcard).toBe('switchyard.in.v1.>');
  });

  it('numbers a new stream on a placeholder subject inside the prefix that the inbound filter does not match', () => {
    expect(subjects.numberingPrefix).toBe('switchyard.numbering.');
    expect(`${subjects.numberingPrefix}42`.startsWith(subjects.inboundWildcard.slice(0, -1))).toBe(false);
  });

  it.each(['a.b', '*', '>', 'clinic.>', 'clinic.*', 'a b', 'a\tb', 'a\r\nPUB x', '', 'x'.repeat(129), 'ünïcode'])(
    'refuses %j as a subject token, so no wildcard or extra token can be injected',
    (token) => {
      expect(isSafeSubjectToken(token)).toBe(false);
      expect(() => subjects.inbound(token)).toThrow(/not a safe subject token/);
    },
  );
});
