import { MAX_JSON_DEPTH, nestedDeeperThan, validateNimbusEvent } from './nimbus-event';

describe('nesting depth limit', () => {
  const nest = (n: number) => JSON.parse(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);

  it('measures objects and arrays without recursing', () => {
    expect(nestedDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(nestedDeeperThan({ a: [1, { b: {} }] }, 3)).toBe(true);
    expect(nestedDeeperThan(nest(100_000), MAX_JSON_DEPTH)).toBe(true);
    expect(nestedDeeperThan('text', 0)).toBe(false);
  });

  it('rejects a body nested deeper than the limit with a clear problem, accepts one at the limit', () => {
    const deep = validateNimbusEvent({ event_name: 'x:y', event_data: nest(10_000) });
    expect(deep).toEqual({ ok: false, problems: [{ field: '(body)', message: `must not be nested deeper than ${MAX_JSON_DEPTH} levels` }] });
    expect(validateNimbusEvent({ event_name: 'x:y', event_data: nest(MAX_JSON_DEPTH - 2) }).ok).toBe(true);
  });
});
