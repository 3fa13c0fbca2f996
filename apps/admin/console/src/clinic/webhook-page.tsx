import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Api, EventType, Health, Stats, Webhook } from '../api';
import { isoToLocal, localToIso, percent, when } from '../format';
import { href, navigate } from '../router';
import { DeliveryChart } from '../ui/chart';
import { useAction, useLoad } from '../ui/use-load';
import { Badge, DurationSelect, ErrorNotice, Field, Form, Loading, Notice, PageTitle, ROTATION_CHOICES, SecretBox, value } from '../ui/widgets';
import { WebhookForm, WebhookValues } from './webhook-form';

/** One webhook: health and chart, settings, signing secret, test event, replay of dead letters, delete. */
export function WebhookPage({ api, id }: { api: Api; id: string }) {
  const hook = useLoad(() => api.get<{ data: Webhook }>(`/api/external/webhook/${encodeURIComponent(id)}`), [id]);
  const catalog = useLoad(() => api.get<{ items: EventType[] }>('/api/external/event-types'), []);
  const w = hook.data?.data;
  return (
    <>
      <PageTitle>Webhook</PageTitle>
      <ErrorNotice error={hook.error ?? catalog.error} />
      {!w || !catalog.data ? (
        hook.error ? null : <Loading what="the webhook" />
      ) : (
        <>
          <Overview api={api} w={w} />
          <section class="panel" aria-labelledby="settings-h">
            <h2 id="settings-h">Settings</h2>
            <Settings api={api} w={w} catalog={catalog.data.items} onSaved={hook.reload} />
          </section>
          <SigningSecret api={api} w={w} />
          <TestEvent api={api} w={w} catalog={catalog.data.items} />
          <Replay api={api} w={w} />
          <DeleteWebhook api={api} w={w} />
        </>
      )}
    </>
  );
}

function Overview({ api, w }: { api: Api; w: Webhook }) {
  const health = useLoad(() => api.get<{ items: Health[] }>(`/api/external/webhook-health?webhook_id=${w.webhook_id}`), [w.webhook_id]);
  const stats = useLoad(() => api.get<Stats>(`/api/external/delivery-stats?webhook_id=${w.webhook_id}`), [w.webhook_id]);
  const h = health.data?.items[0];
  return (
    <section class="panel" aria-labelledby="overview-h">
      <div class="spread">
        <h2 id="overview-h" class="wrap">
          {w.webhook_url}
        </h2>
        <div class="actions">
          {w.enabled ? <Badge kind="on">enabled</Badge> : <Badge kind="off">disabled{w.disabled_reason ? `: ${w.disabled_reason}` : ''}</Badge>}
          <button type="button" onClick={() => (health.reload(), stats.reload())}>
            Refresh
          </button>
          <a href={href('deliveries') + `?webhook_id=${w.webhook_id}`}>Deliveries</a>
        </div>
      </div>
      <ErrorNotice error={health.error ?? stats.error} />
      {h ? (
        <div class="stats" data-testid="health">
          <Stat label="success rate, 24 h" value={percent(h.success_rate_24h)} />
          <Stat label="attempts, 24 h" value={String(h.attempts_24h)} />
          <Stat label="waiting" value={String(h.waiting)} />
          <Stat label="parked" value={String(h.parked)} />
          <Stat label="dead letters" value={String(h.dead)} />
          <Stat label="last attempt" value={h.last_attempt ? `${h.last_attempt.outcome}${h.last_attempt.status_code ? ` ${h.last_attempt.status_code}` : ''}` : '—'} detail={h.last_attempt ? when(h.last_attempt.at) : undefined} />
        </div>
      ) : null}
      {stats.data ? <DeliveryChart stats={stats.data} title="Deliveries to this webhook, last 24 h" /> : null}
    </section>
  );
}

const Stat = ({ label, value: v, detail }: { label: string; value: string; detail?: string }) => (
  <div class="stat">
    <div class="value">{v}</div>
    <div class="label">{label}</div>
    {detail ? <div class="small muted">{detail}</div> : null}
  </div>
);

function Settings({ api, w, catalog, onSaved }: { api: Api; w: Webhook; catalog: EventType[]; onSaved: () => void }) {
  const save = useAction(async (v: WebhookValues) => {
    await api.patch(`/api/external/webhook/${w.webhook_id}`, v);
    onSaved();
    return true;
  });
  return (
    <>
      {save.result && !save.busy ? <Notice kind="ok">Saved.</Notice> : null}
      <WebhookForm
        key={w.webhook_id}
        initial={{ webhook_url: w.webhook_url, event_types: w.event_types, format: w.format, max_in_flight: w.max_in_flight, enabled: w.enabled }}
        catalog={catalog}
        editing
        busy={save.busy}
        error={save.error}
        submitLabel="Save changes"
        onSubmit={(v) => void save.go(v)}
      />
    </>
  );
}

function SigningSecret({ api, w }: { api: Api; w: Webhook }) {
  const [overlap, setOverlap] = useState('86400');
  const show = useAction(() => api.get<{ secret: string; previous_secret_expires_at: string | null }>(`/api/external/webhook/${w.webhook_id}/secret`));
  const rotate = useAction(async () => {
    const rotated = await api.post<{ data: { secret: string }; message: string }>(`/api/external/webhook/${w.webhook_id}/rotate-secret`, { overlap_seconds: Number(overlap) });
    show.reset(); // the secret shown before is the previous one now
    return rotated;
  });
  return (
    <section class="panel" aria-labelledby="secret-h">
      <h2 id="secret-h">Signing secret</h2>
      <p class="small muted">
        Every delivery carries <code>webhook-id</code>, <code>webhook-timestamp</code> and <code>webhook-signature</code> (Standard Webhooks, HMAC-SHA256 with this secret). After a
        rotation the old secret also signs for the overlap you choose, so receivers can switch without losing a delivery.
      </p>
      <ErrorNotice error={show.error ?? rotate.error} />
      {show.result && !rotate.result ? (
        <SecretBox
          label="Current secret:"
          value={show.result.secret}
          note={show.result.previous_secret_expires_at ? ` The previous secret also signs until ${when(show.result.previous_secret_expires_at)}.` : ''}
        />
      ) : null}
      {rotate.result ? <SecretBox label="New secret:" value={rotate.result.data.secret} note={` ${rotate.result.message}.`} /> : null}
      <Form label="Rotate the signing secret" onSubmit={() => void rotate.go()}>
        <div class="row">
          <div class="actions field">
            <button type="button" onClick={() => void show.go()} disabled={show.busy}>
              Show secret
            </button>
          </div>
          <DurationSelect id="overlap" label="Old secret keeps signing for" value={overlap} onChange={setOverlap} choices={ROTATION_CHOICES('no overlap (stops at once)')} />
          <div class="actions field">
            <button type="submit" disabled={rotate.busy}>
              Rotate secret
            </button>
          </div>
        </div>
      </Form>
    </section>
  );
}

function TestEvent({ api, w, catalog }: { api: Api; w: Webhook; catalog: EventType[] }) {
  const [example, setExample] = useState('');
  const send = useAction(() => api.post<{ delivery_id: string }>(`/api/external/webhook/${w.webhook_id}/test`, example ? { event_type: example } : {}));
  return (
    <section class="panel" aria-labelledby="test-h">
      <h2 id="test-h">Send a test event</h2>
      <p class="small muted">
        One event named <code>switchyard:test</code> (CloudEvents type <code>com.nimbus-os.switchyard.test</code>), marked <code>"test": true</code>, to this webhook only —
        signed like any other delivery.
      </p>
      <ErrorNotice error={send.error} />
      {send.result ? (
        <Notice kind="ok">
          Test event queued. <a href={href('deliveries', send.result.delivery_id)}>Open its delivery</a>
        </Notice>
      ) : null}
      <Form label="Send a test event" onSubmit={() => void send.go()}>
        <div class="row">
          <Field id="test-example" label="Include the example of">
            <select id="test-example" value={example} onChange={(e) => setExample(value(e))}>
              <option value="">(no example)</option>
              {catalog.map((t) => (
                <option value={t.name}>{t.name}</option>
              ))}
            </select>
          </Field>
          <div class="actions field">
            <button type="submit" class="primary" disabled={send.busy || !w.enabled}>
              Send test event
            </button>
          </div>
        </div>
      </Form>
    </section>
  );
}

function Replay({ api, w }: { api: Api; w: Webhook }) {
  const [since, setSince] = useState(() => isoToLocal(new Date(Date.now() - 24 * 3_600_000).toISOString()));
  const [until, setUntil] = useState('');
  const body = (dryRun: boolean) => ({ since: localToIso(since), until: localToIso(until), dry_run: dryRun });
  const preview = useAction(() => api.post<{ count: number }>(`/api/external/webhook/${w.webhook_id}/replay`, body(true)));
  const replay = useAction(() => api.post<{ count: number }>(`/api/external/webhook/${w.webhook_id}/replay`, body(false)));
  const range = (set: (v: string) => void) => (e: Event) => (set(value(e)), preview.reset(), replay.reset());
  return (
    <section class="panel" aria-labelledby="replay-h">
      <h2 id="replay-h">Replay dead letters</h2>
      <p class="small muted">Deliveries that failed every attempt are kept. Replay those dead-lettered in a time range: each is sent again with its original webhook-id.</p>
      <ErrorNotice error={preview.error ?? replay.error} />
      <Form label="Preview the replay" onSubmit={() => void preview.go()}>
        <div class="row">
          <Field id="replay-since" label="Dead-lettered from">
            <input id="replay-since" type="datetime-local" value={since} onInput={range(setSince)} />
          </Field>
          <Field id="replay-until" label="until" hint="(blank: now)">
            <input id="replay-until" type="datetime-local" value={until} onInput={range(setUntil)} />
          </Field>
          <div class="actions field">
            <button type="submit" disabled={preview.busy || !w.enabled}>
              Preview
            </button>
          </div>
        </div>
      </Form>
      {preview.result && !replay.result ? (
        <div class="actions">
          <span role="status" data-testid="replay-preview">
            {preview.result.count === 1 ? '1 dead letter would be replayed.' : `${preview.result.count} dead letters would be replayed.`}
          </span>
          <button type="button" class="primary" disabled={replay.busy || preview.result.count === 0} onClick={() => void replay.go()}>
            Replay {preview.result.count}
          </button>
        </div>
      ) : null}
      {replay.result ? <Notice kind="ok">{replay.result.count === 1 ? '1 delivery queued again.' : `${replay.result.count} deliveries queued again.`}</Notice> : null}
    </section>
  );
}

function DeleteWebhook({ api, w }: { api: Api; w: Webhook }) {
  const [asking, setAsking] = useState(false);
  // The button pressed goes away: the focus moves to the confirmation's safe answer, and back after Cancel
  // (else it fell to the page itself, and a keyboard or screen reader user started over from the top). In the
  // render's own task, as PageTitle does, so a key pressed at once lands there.
  const cancel = useRef<HTMLButtonElement>(null);
  const start = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  useLayoutEffect(() => {
    if (asking) cancel.current?.focus();
    else if (asked.current) start.current?.focus();
    asked.current = asking;
  }, [asking]);
  const remove = useAction(async () => {
    await api.del(`/api/external/webhook/${w.webhook_id}`);
    navigate(href('webhooks'));
    return true;
  });
  return (
    <section class="panel" aria-labelledby="delete-h">
      <h2 id="delete-h">Delete</h2>
      <ErrorNotice error={remove.error} />
      {asking ? (
        <div class="actions" role="group" aria-label="Confirm deletion">
          <span>Delete this webhook? Its waiting deliveries will not be sent; its history stays.</span>
          <button type="button" class="danger" onClick={() => void remove.go()} disabled={remove.busy}>
            Yes, delete it
          </button>
          <button type="button" ref={cancel} onClick={() => setAsking(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <button type="button" class="danger" ref={start} onClick={() => setAsking(true)}>
          Delete webhook…
        </button>
      )}
    </section>
  );
}
