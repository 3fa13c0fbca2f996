import { useState } from 'preact/hooks';
import type { Api, Clinic, Key, PortalLink, Webhook } from '../api';
import { when } from '../format';
import { useAction, useLoad } from '../ui/use-load';
import { Badge, DurationSelect, ErrorNotice, Form, Loading, PageTitle, ROTATION_CHOICES, SecretBox } from '../ui/widgets';

/** Operators: one clinic — enable/disable, its keys (issue with grace, revoke), console links, its webhooks. */
export function ClinicPage({ api, id }: { api: Api; id: string }) {
  const clinic = useLoad(() => api.get<Clinic & { keys: Key[] }>(`/admin/clinics/${encodeURIComponent(id)}`), [id]);
  const toggle = useAction(async (enabled: boolean) => {
    await api.patch(`/admin/clinics/${id}`, { enabled });
    clinic.reload();
    return enabled;
  });
  const c = clinic.data;
  return (
    <>
      <PageTitle>{c ? c.name : 'Clinic'}</PageTitle>
      <ErrorNotice error={clinic.error ?? toggle.error} />
      {!c ? (
        clinic.error ? null : <Loading what="the clinic" />
      ) : (
        <>
          <section class="panel">
            <div class="spread">
              <div>
                {c.enabled ? <Badge kind="on">enabled</Badge> : <Badge kind="off">disabled</Badge>} <span class="mono small">{c.id}</span>
              </div>
              <button type="button" class={c.enabled ? 'danger' : 'primary'} disabled={toggle.busy} onClick={() => void toggle.go(!c.enabled)}>
                {c.enabled ? 'Disable clinic' : 'Enable clinic'}
              </button>
            </div>
            <p class="small muted">A disabled clinic's keys and console sessions stop working; its data stays.</p>
          </section>
          <Keys api={api} clinicId={c.id} keys={c.keys} onChange={clinic.reload} />
          <PortalLinks api={api} clinicId={c.id} />
          <ClinicWebhooks api={api} clinicId={c.id} />
        </>
      )}
    </>
  );
}

function Keys({ api, clinicId, keys, onChange }: { api: Api; clinicId: string; keys: Key[]; onChange: () => void }) {
  const [grace, setGrace] = useState('86400');
  const issue = useAction(async () => {
    const k = await api.post<{ key_id: string; api_key: string }>(`/admin/clinics/${clinicId}/keys`, { grace_seconds: Number(grace) });
    onChange();
    return k;
  });
  const revoke = useAction(async (keyId: string) => {
    await api.del(`/admin/clinics/${clinicId}/keys/${keyId}`);
    onChange();
    return keyId;
  });
  return (
    <section class="panel table-wrap" aria-labelledby="keys-h">
      <h2 id="keys-h">API keys</h2>
      <ErrorNotice error={issue.error ?? revoke.error} />
      {issue.result ? <SecretBox label="New key:" value={issue.result.api_key} note=" Shown only now. The older keys stop working when their grace period ends." /> : null}
      <table class="stack" data-testid="keys">
        <thead>
          <tr>
            <th>Key</th>
            <th class="hide-narrow">Created</th>
            <th>Expires</th>
            <th>Revoked</th>
            <th>
              <span class="hide-narrow">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.key_id}>
              <td data-label="Key" class="mono">{k.hint}</td>
              <td data-label="Created" class="hide-narrow">{when(k.created_at)}</td>
              <td data-label="Expires">{when(k.expires_at)}</td>
              <td data-label="Revoked">{when(k.revoked_at)}</td>
              <td data-label="Action">
                {k.revoked_at ? null : (
                  <button type="button" class="danger" onClick={() => void revoke.go(k.key_id)} disabled={revoke.busy} aria-label={`Revoke key ${k.hint}`}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Form label="Issue a new key" onSubmit={() => void issue.go()}>
        <div class="row">
          <DurationSelect id="grace" label="Older keys keep working for" value={grace} onChange={setGrace} choices={ROTATION_CHOICES('no grace (stop at once)')} />
          <div class="actions field">
            <button type="submit" disabled={issue.busy}>
              Issue new key (rotate)
            </button>
          </div>
        </div>
      </Form>
    </section>
  );
}

function PortalLinks({ api, clinicId }: { api: Api; clinicId: string }) {
  const links = useLoad(() => api.get<{ items: PortalLink[] }>(`/admin/clinics/${clinicId}/portal-sessions`), [clinicId]);
  const [ttl, setTtl] = useState('3600');
  const issue = useAction(async () => {
    const l = await api.post<PortalLink>(`/admin/clinics/${clinicId}/portal-sessions`, { ttl_seconds: Number(ttl) });
    links.reload();
    return l;
  });
  const revoke = useAction(async (linkId: string) => {
    await api.del(`/admin/clinics/${clinicId}/portal-sessions/${linkId}`);
    links.reload();
    return linkId;
  });
  const state = (l: PortalLink) => (l.revoked_at ? 'revoked' : Date.parse(l.expires_at) <= Date.now() ? 'expired' : l.exchanged_at ? 'in use' : 'not opened yet');
  return (
    <section class="panel table-wrap" aria-labelledby="links-h">
      <h2 id="links-h">Console links</h2>
      <p class="small muted">A link opens this clinic's console (its webhooks and deliveries only). It opens once, ends at its expiry or when revoked, and is shown only here.</p>
      <ErrorNotice error={links.error ?? issue.error ?? revoke.error} />
      {issue.result?.url ? (
        <div class="notice info" role="status">
          <label for="portal-url">Link for the clinic (expires {when(issue.result.expires_at)}):</label>
          <input id="portal-url" class="wide mono" type="text" readOnly value={issue.result.url} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        </div>
      ) : null}
      <Form label="Create a console link" onSubmit={() => void issue.go()}>
        <div class="row">
          <DurationSelect id="ttl" label="Valid for" value={ttl} onChange={setTtl} choices={[[900, '15 minutes'], [3_600, '1 hour'], [28_800, '8 hours'], [86_400, '24 hours']]} />
          <div class="actions field">
            <button type="submit" class="primary" disabled={issue.busy}>
              Create console link
            </button>
          </div>
        </div>
      </Form>
      {links.data && links.data.items.length > 0 ? (
        <table class="stack" data-testid="portal-links">
          <thead>
            <tr>
              <th>Created</th>
              <th>Expires</th>
              <th>State</th>
              <th>
                <span class="hide-narrow">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {links.data.items.map((l) => (
              <tr key={l.id}>
                <td data-label="Created">{when(l.created_at)}</td>
                <td data-label="Expires">{when(l.expires_at)}</td>
                <td data-label="State">{state(l)}</td>
                <td data-label="Action">
                  {state(l) === 'in use' || state(l) === 'not opened yet' ? (
                    <button type="button" class="danger" onClick={() => void revoke.go(l.id)} disabled={revoke.busy} aria-label={`Revoke the link created ${when(l.created_at)}`}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function ClinicWebhooks({ api, clinicId }: { api: Api; clinicId: string }) {
  const hooks = useLoad(() => api.get<{ data: Webhook[] }>(`/api/external/webhook?clinic_id=${clinicId}`), [clinicId]);
  return (
    <section class="panel table-wrap" aria-labelledby="hooks-h">
      <h2 id="hooks-h">Webhooks</h2>
      <ErrorNotice error={hooks.error} />
      {hooks.data && hooks.data.data.length === 0 ? <p class="muted">None yet.</p> : null}
      {hooks.data && hooks.data.data.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>Endpoint</th>
              <th>Events</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {hooks.data.data.map((w) => (
              <tr key={w.webhook_id}>
                <td class="wrap">{w.webhook_url}</td>
                <td>{w.event_types.join(', ')}</td>
                <td>{w.enabled ? <Badge kind="on">enabled</Badge> : <Badge kind="off">disabled</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
