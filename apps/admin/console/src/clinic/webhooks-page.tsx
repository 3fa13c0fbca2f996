import type { Api, EventType, Health, Webhook } from '../api';
import { percent, when } from '../format';
import { href, navigate } from '../router';
import { useAction, useLoad } from '../ui/use-load';
import { Badge, ErrorNotice, Loading, PageTitle, SecretBox } from '../ui/widgets';
import { WebhookForm } from './webhook-form';

/** The clinic's webhooks, each with its health over the last 24 h. */
export function WebhooksPage({ api }: { api: Api }) {
  const hooks = useLoad(() => api.get<{ data: Webhook[] }>('/api/external/webhook'), []);
  const health = useLoad(() => api.get<{ items: Health[] }>('/api/external/webhook-health'), []);
  const healthOf = (id: string) => health.data?.items.find((h) => h.webhook_id === id);
  return (
    <>
      <div class="spread">
        <PageTitle>Webhooks</PageTitle>
        <div class="actions">
          <button type="button" onClick={() => (hooks.reload(), health.reload())}>
            Refresh
          </button>
          <a href={href('webhooks', 'new')} class="button-link">
            Add webhook
          </a>
        </div>
      </div>
      <ErrorNotice error={hooks.error ?? health.error} />
      {!hooks.data ? (
        <Loading what="webhooks" />
      ) : hooks.data.data.length === 0 ? (
        <div class="panel">
          <p>No webhooks yet. Add one to receive this clinic's events.</p>
        </div>
      ) : (
        <div class="panel table-wrap">
          <table class="stack" data-testid="webhooks">
            <thead>
              <tr>
                <th>Endpoint</th>
                <th class="hide-narrow">Events</th>
                <th>State</th>
                <th class="num">Success 24 h</th>
                <th class="num hide-narrow">Attempts 24 h</th>
                <th class="hide-narrow">Last attempt</th>
                <th class="num">Waiting</th>
                <th class="num">Dead</th>
              </tr>
            </thead>
            <tbody>
              {hooks.data.data.map((w) => {
                const h = healthOf(w.webhook_id);
                return (
                  <tr key={w.webhook_id}>
                    <td data-label="Endpoint" class="wrap">
                      <a href={href('webhooks', w.webhook_id)}>{w.webhook_url}</a>
                      <div class="muted small">{w.format}</div>
                    </td>
                    <td data-label="Events" class="hide-narrow">{w.event_types.join(', ')}</td>
                    <td data-label="State">{w.enabled ? <Badge kind="on">enabled</Badge> : <Badge kind="off">disabled</Badge>}</td>
                    <td data-label="Success 24 h" class="num">
                      {h?.success_rate_24h != null ? <progress max={1} value={h.success_rate_24h} aria-hidden="true" /> : null} {percent(h?.success_rate_24h ?? null)}
                    </td>
                    <td data-label="Attempts 24 h" class="num hide-narrow">{h?.attempts_24h ?? '—'}</td>
                    <td data-label="Last attempt" class="hide-narrow">{h?.last_attempt ? `${when(h.last_attempt.at)} · ${h.last_attempt.outcome}${h.last_attempt.status_code ? ` ${h.last_attempt.status_code}` : ''}` : '—'}</td>
                    <td data-label="Waiting" class="num">{h?.waiting ?? '—'}</td>
                    <td data-label="Dead" class="num">{h?.dead ?? '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** Registers a webhook; its signing secret is shown once, right after. */
export function NewWebhookPage({ api, clinicId }: { api: Api; clinicId: string }) {
  const catalog = useLoad(() => api.get<{ items: EventType[] }>('/api/external/event-types'), []);
  const create = useAction((v: Parameters<Parameters<typeof WebhookForm>[0]['onSubmit']>[0]) =>
    api.post<{ data: { webhook_id: string; secret: string } }>('/api/external/webhook', {
      clinic_id: clinicId,
      webhook_url: v.webhook_url,
      event_types: v.event_types,
      format: v.format,
      max_in_flight: v.max_in_flight,
    }),
  );
  const created = create.result?.data;
  return (
    <>
      <PageTitle>Add a webhook</PageTitle>
      <ErrorNotice error={catalog.error} />
      {created ? (
        <div class="panel">
          <SecretBox
            label="Webhook created. Its signing secret:"
            value={created.secret}
            note=" Keep it in your receiver's configuration to verify the webhook-signature header. You can also show it later on the webhook's page."
          />
          <button type="button" class="primary" onClick={() => navigate(href('webhooks', created.webhook_id))}>
            Open the webhook
          </button>
        </div>
      ) : !catalog.data ? (
        <Loading what="event types" />
      ) : (
        <div class="panel">
          <WebhookForm
            initial={{ webhook_url: '', event_types: ['*'], format: 'cloudevents', max_in_flight: null, enabled: true }}
            catalog={catalog.data.items}
            editing={false}
            busy={create.busy}
            error={create.error}
            submitLabel="Create webhook"
            onSubmit={(v) => void create.go(v)}
          />
        </div>
      )}
    </>
  );
}
