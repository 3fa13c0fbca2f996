import { useEffect, useRef, useState } from 'preact/hooks';
import { Api, Attempt, Delivery, EventType, Page, Stats, Webhook, query } from '../api';
import { TEST_EVENT_NAME, isoToLocal, localToIso, when } from '../format';
import { Route, href, navigate } from '../router';
import { DeliveryChart } from '../ui/chart';
import { useAction, useLoad, usePages } from '../ui/use-load';
import { Badge, ErrorNotice, Field, Form, Loading, Notice, PageTitle, value } from '../ui/widgets';

const STATUSES = ['pending', 'delivering', 'succeeded', 'dead', 'parked', 'cancelled'];
const FILTERS = ['webhook_id', 'status', 'event_type', 'since', 'until'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

export const EventName = ({ name }: { name: string }) => (name === TEST_EVENT_NAME ? <Badge kind="test">test event</Badge> : <code>{name}</code>);

/** The delivery log: chart of the last 24 h, filters (kept in the address), newest first, a page at a time. */
export function DeliveriesPage({ api, route }: { api: Api; route: Route }) {
  const filters: Filters = Object.fromEntries(FILTERS.map((k) => [k, route.params.get(k) ?? undefined]));
  const key = JSON.stringify(filters);
  const hooks = useLoad(() => api.get<{ data: Webhook[] }>('/api/external/webhook'), []);
  const catalog = useLoad(() => api.get<{ items: EventType[] }>('/api/external/event-types'), []);
  const stats = useLoad(() => api.get<Stats>(`/api/external/delivery-stats${query({ webhook_id: filters.webhook_id })}`), [filters.webhook_id]);
  const { items, cursor, load: more } = usePages((from) => api.get<Page<Delivery>>(`/api/external/deliveries${query({ ...filters, limit: 25, cursor: from })}`), key);
  const urlOf = (id: string) => hooks.data?.data.find((w) => w.webhook_id === id)?.webhook_url ?? id;
  return (
    <>
      <div class="spread">
        <PageTitle>Deliveries</PageTitle>
        <button type="button" onClick={() => (void more.go(null), stats.reload())}>
          Refresh
        </button>
      </div>
      <ErrorNotice error={more.error ?? hooks.error ?? stats.error} />
      <section class="panel" aria-label="Deliveries over time">
        {stats.data ? <DeliveryChart stats={stats.data} title="Deliveries, last 24 h, by outcome" /> : <Loading what="the chart" />}
      </section>
      <section class="panel" aria-label="Filters">
        <DeliveryFilters filters={filters} webhooks={hooks.data?.data ?? []} catalog={catalog.data?.items ?? []} />
      </section>
      <section class="panel table-wrap" aria-label="Delivery log">
        {items.length === 0 && !more.busy && !more.error ? <p>No deliveries match.</p> : null}
        {items.length > 0 ? (
          <table class="stack" data-testid="deliveries">
            <thead>
              <tr>
                <th>Created</th>
                <th>Event</th>
                <th class="hide-narrow">Webhook</th>
                <th>Status</th>
                <th class="num">Attempts</th>
                <th class="hide-narrow">Last answer</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td data-label="Created">
                    <a href={href('deliveries', d.id)}>{when(d.created_at)}</a>
                  </td>
                  <td data-label="Event">
                    <EventName name={d.event_name} />
                  </td>
                  <td data-label="Webhook" class="hide-narrow wrap small">{urlOf(d.webhook_id)}</td>
                  <td data-label="Status">
                    <Badge kind={d.status}>{d.status}</Badge>
                  </td>
                  <td data-label="Attempts" class="num">{d.attempt_count}</td>
                  <td data-label="Last answer" class="hide-narrow small wrap">{d.last_status_code ?? d.last_error ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {cursor ? (
          <button type="button" onClick={() => void more.go(cursor)} disabled={more.busy}>
            Load more
          </button>
        ) : null}
      </section>
    </>
  );
}

function DeliveryFilters({ filters, webhooks, catalog }: { filters: Filters; webhooks: Webhook[]; catalog: EventType[] }) {
  const fromAddress = (): Filters => ({ ...filters, since: filters.since && isoToLocal(filters.since), until: filters.until && isoToLocal(filters.until) });
  const [f, setF] = useState<Filters>(fromAddress);
  // The form follows the filters in the address when they change (Clear, back, a link), keeping the focus where it is.
  // Only when they change: an effect runs after the browser paints, so on a busy machine the one of the first render
  // came after the user had already picked a filter, and put the form back to the address's (Apply then applied none).
  const inAddress = JSON.stringify(filters);
  const synced = useRef(inAddress);
  useEffect(() => {
    if (synced.current === inAddress) return;
    synced.current = inAddress;
    setF(fromAddress());
  }, [inAddress]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (k: keyof Filters) => (e: Event) => setF({ ...f, [k]: value(e) || undefined });
  const apply = () => navigate(href('deliveries') + query({ ...f, since: localToIso(f.since ?? ''), until: localToIso(f.until ?? '') }));
  return (
    <Form label="Filter deliveries" onSubmit={apply}>
      <div class="row">
        <Field id="f-webhook" label="Webhook">
          <select id="f-webhook" value={f.webhook_id ?? ''} onChange={set('webhook_id')}>
            <option value="">all</option>
            {webhooks.map((w) => (
              <option value={w.webhook_id}>{w.webhook_url}</option>
            ))}
          </select>
        </Field>
        <Field id="f-status" label="Status">
          <select id="f-status" value={f.status ?? ''} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </Field>
        <Field id="f-type" label="Event type">
          <select id="f-type" value={f.event_type ?? ''} onChange={set('event_type')}>
            <option value="">any</option>
            {catalog.map((t) => (
              <option value={t.name}>{t.name}</option>
            ))}
            <option value={TEST_EVENT_NAME}>test events</option>
          </select>
        </Field>
        <Field id="f-since" label="From">
          <input id="f-since" type="datetime-local" value={f.since ?? ''} onInput={set('since')} />
        </Field>
        <Field id="f-until" label="Until">
          <input id="f-until" type="datetime-local" value={f.until ?? ''} onInput={set('until')} />
        </Field>
        <div class="actions field">
          <button type="submit" class="primary">
            Apply
          </button>
          <button type="button" onClick={() => navigate(href('deliveries'))}>
            Clear
          </button>
        </div>
      </div>
    </Form>
  );
}

/** One delivery with its attempts; resend when it is finished. Refreshes itself while it is under way. */
export function DeliveryPage({ api, id }: { api: Api; id: string }) {
  const d = useLoad(() => api.get<Delivery & { attempts: Attempt[] }>(`/api/external/deliveries/${encodeURIComponent(id)}`), [id]);
  const resend = useAction(async () => {
    await api.post(`/api/external/deliveries/${encodeURIComponent(id)}/resend`);
    d.reload();
    return true;
  });
  const active = d.data && (d.data.status === 'pending' || d.data.status === 'delivering');
  useEffect(() => {
    if (!active) return;
    const t = setTimeout(d.reload, 1000);
    return () => clearTimeout(t);
  });
  const x = d.data;
  return (
    <>
      <div class="spread">
        <PageTitle>Delivery</PageTitle>
        <div class="actions">
          <button type="button" onClick={d.reload}>
            Refresh
          </button>
          <button type="button" class="primary" disabled={!x || resend.busy || !(x.status === 'succeeded' || x.status === 'dead')} onClick={() => void resend.go()}>
            Resend
          </button>
        </div>
      </div>
      <ErrorNotice error={d.error ?? resend.error} />
      {resend.result ? <Notice kind="ok">Queued again; it will be sent within seconds with the same webhook-id.</Notice> : null}
      {!x ? (
        d.error ? null : <Loading what="the delivery" />
      ) : (
        <>
          <section class="panel">
            <dl class="facts" data-testid="delivery-facts">
              <dt>Status</dt>
              <dd>
                <Badge kind={x.status}>{x.status}</Badge>
              </dd>
              <dt>Event</dt>
              <dd>
                <EventName name={x.event_name} /> <span class="mono small">{x.event_id}</span>
              </dd>
              <dt>Webhook</dt>
              <dd>
                <a href={href('webhooks', x.webhook_id)}>{x.webhook_id}</a>
              </dd>
              <dt>Created</dt>
              <dd>{when(x.created_at)}</dd>
              <dt>Delivered</dt>
              <dd>{when(x.delivered_at)}</dd>
              <dt>Dead-lettered</dt>
              <dd>{when(x.dead_at)}</dd>
              <dt>Next attempt</dt>
              <dd>{when(x.next_attempt_at)}</dd>
            </dl>
          </section>
          <section class="panel table-wrap" aria-labelledby="attempts-h">
            <h2 id="attempts-h">Attempts</h2>
            {x.attempts.length === 0 ? <p class="muted">No attempt yet.</p> : null}
            {x.attempts.length > 0 ? (
              <table class="stack" data-testid="attempts">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Outcome</th>
                    <th class="num">HTTP</th>
                    <th class="num">Duration</th>
                    <th>Answer (first bytes) or error</th>
                  </tr>
                </thead>
                <tbody>
                  {x.attempts.map((a, i) => (
                    <tr key={i}>
                      <td data-label="Time">{when(a.started_at)}</td>
                      <td data-label="Outcome">
                        <Badge kind={a.outcome === 'success' ? 'success' : 'failed'}>{a.outcome}</Badge>
                      </td>
                      <td data-label="HTTP" class="num">{a.status_code ?? '—'}</td>
                      <td data-label="Duration" class="num">{a.duration_ms} ms</td>
                      <td data-label="Answer" class="wrap">
                        {a.error ? <div>{a.error}</div> : null}
                        {a.response_excerpt ? <code class="small">{a.response_excerpt.slice(0, 300)}</code> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </section>
        </>
      )}
    </>
  );
}
