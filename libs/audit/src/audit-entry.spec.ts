import { AuditedRequest, auditRecordOf, clinicIdOf, fieldNamesOf, targetIdOf } from './audit-entry';

const CLINIC = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const HOOK = '33333333-3333-4333-8333-333333333333';
const KEY = '44444444-4444-4444-8444-444444444444';

const request = (over: Partial<AuditedRequest>): AuditedRequest => ({
  actor: { kind: 'operator' },
  method: 'POST',
  route: '/api/external/webhook',
  params: {},
  query: {},
  body: {},
  response: undefined,
  requestId: 'req-1',
  status: 201,
  errorCode: null,
  ...over,
});

describe('audit entries', () => {
  it('records the names of the fields sent, never their values', () => {
    const body = { clinic_id: CLINIC, webhook_url: 'https://x.example/hook?token=abc', api_key: 'downstream-secret-key', 'we ird\n': 1 };
    const record = auditRecordOf(request({ body }), CLINIC);
    expect(record.fields).toEqual(['api_key', 'clinic_id', 'webhook_url']);
    expect(JSON.stringify(record)).not.toMatch(/downstream-secret-key|token=abc/);
    expect(fieldNamesOf([1, 2])).toEqual([]);
    expect(fieldNamesOf('text')).toEqual([]);
  });

  it('never takes a secret from the answer: only UUID-shaped ids', () => {
    const response = { success: true, data: { webhook_id: HOOK, secret: 'whsec_abc' }, api_key: 'swy_abc', id: 'not-a-uuid' };
    const record = auditRecordOf(request({ response }), CLINIC);
    expect(record.targetId).toBe(HOOK);
    expect(JSON.stringify(record)).not.toMatch(/whsec_|swy_/);
  });

  it('takes the id the answer names (what was created or changed) as the target, else the last id of the path', () => {
    expect(targetIdOf({ id: CLINIC }, { key_id: KEY, api_key: 'swy_x' })).toBe(KEY);
    expect(targetIdOf({ id: CLINIC, keyId: KEY }, undefined)).toBe(KEY);
    expect(targetIdOf({ id: HOOK }, { queued: 3 })).toBe(HOOK);
    expect(targetIdOf({}, { id: CLINIC, name: 'x', api_key: 'swy_…' })).toBe(CLINIC);
    expect(targetIdOf({}, { key_id: KEY, api_key: 'swy_x' })).toBe(KEY);
    expect(targetIdOf({ id: 'malformed' }, undefined)).toBeNull();
  });

  it('says who acted: the operator, a clinic key, or a portal session', () => {
    expect(auditRecordOf(request({}), null)).toEqual(expect.objectContaining({ actorKind: 'operator', actorId: null }));
    expect(auditRecordOf(request({ actor: { kind: 'clinic', clinicId: CLINIC, keyId: KEY } }), CLINIC)).toEqual(
      expect.objectContaining({ actorKind: 'clinic_key', actorId: KEY, clinicId: CLINIC }),
    );
    expect(auditRecordOf(request({ actor: { kind: 'clinic', clinicId: CLINIC, keyId: KEY, portalSessionId: 'ps_1' } }), CLINIC)).toEqual(
      expect.objectContaining({ actorKind: 'portal_session', actorId: 'ps_1' }),
    );
  });

  it("files an entry under the acting clinic, or the clinic an operator's request names", () => {
    expect(clinicIdOf(request({ actor: { kind: 'clinic', clinicId: CLINIC }, body: { clinic_id: OTHER } }))).toBe(CLINIC);
    expect(clinicIdOf(request({ body: { clinic_id: CLINIC } }))).toBe(CLINIC);
    expect(clinicIdOf(request({ response: { success: true, data: { clinic_id: CLINIC } } }))).toBe(CLINIC);
    expect(clinicIdOf(request({ route: '/admin/clinics/:id/keys', params: { id: CLINIC } }))).toBe(CLINIC);
    expect(clinicIdOf(request({ route: '/admin/dead-letters/replay', query: { clinic_id: CLINIC } }))).toBe(CLINIC);
    expect(clinicIdOf(request({ route: '/admin/clinics', response: { id: CLINIC, api_key: 'swy_x' } }))).toBe(CLINIC);
    expect(clinicIdOf(request({ route: '/api/external/webhook/:id', params: { id: HOOK } }))).toBeNull();
    expect(clinicIdOf(request({ body: { clinic_id: 'not-a-uuid' } }))).toBeNull();
  });

  it('keeps the target of a failed write from its path only', () => {
    const failed = auditRecordOf(request({ status: 404, errorCode: 'not_found', params: { id: HOOK }, response: { id: OTHER } }), null);
    expect(failed).toEqual(expect.objectContaining({ targetId: HOOK, status: 404, errorCode: 'not_found' }));
  });
});
