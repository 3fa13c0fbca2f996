import { useState } from 'preact/hooks';
import type { EventType } from '../api';
import { ErrorNotice, Field, Form, checked, value } from '../ui/widgets';

export interface WebhookValues {
  webhook_url: string;
  event_types: string[];
  format: 'cloudevents' | 'nimbus';
  max_in_flight: number | null;
  enabled: boolean;
}

/**
 * Create or edit a webhook: its URL, the event types it takes (from the catalog, or all), the body format,
 * how many attempts may be under way at once, and (when editing) whether it is enabled.
 */
export function WebhookForm(props: {
  initial: WebhookValues;
  catalog: EventType[];
  editing: boolean;
  busy: boolean;
  error: string | null;
  submitLabel: string;
  onSubmit: (v: WebhookValues) => void;
}) {
  const [v, setV] = useState<WebhookValues>(props.initial);
  const all = v.event_types.includes('*');
  const toggle = (name: string, on: boolean) =>
    setV({ ...v, event_types: on ? [...v.event_types.filter((t) => t !== '*'), name] : v.event_types.filter((t) => t !== name) });
  const invalid = v.event_types.length === 0 ? 'Pick at least one event type, or all of them.' : null;
  return (
    <Form label={props.submitLabel} onSubmit={() => !invalid && props.onSubmit(v)}>
      <ErrorNotice error={props.error} />
      <Field id="wh-url" label="Endpoint URL" hint="(https://… — where the events are POSTed)">
        <input id="wh-url" class="wide" type="url" required value={v.webhook_url} onInput={(e) => setV({ ...v, webhook_url: value(e) })} />
      </Field>
      <fieldset>
        <legend>Event types</legend>
        <label class="check">
          <input type="checkbox" name="event-type" value="*" checked={all} onChange={(e) => setV({ ...v, event_types: checked(e) ? ['*'] : [] })} />
          <span>
            <strong>All event types</strong> <span class="muted small">(including ones Nimbus adds later)</span>
          </span>
        </label>
        {props.catalog.map((t) => (
          <label class="check" key={t.name}>
            <input type="checkbox" name="event-type" value={t.name} disabled={all} checked={all || v.event_types.includes(t.name)} onChange={(e) => toggle(t.name, checked(e))} />
            <span>
              <code>{t.name}</code> <span class="muted small">{t.description}</span>
            </span>
          </label>
        ))}
        {invalid ? <p class="small muted">{invalid}</p> : null}
      </fieldset>
      <div class="row">
        <Field id="wh-format" label="Body format">
          <select id="wh-format" value={v.format} onChange={(e) => setV({ ...v, format: value(e) as WebhookValues['format'] })}>
            <option value="cloudevents">CloudEvents 1.0 (JSON)</option>
            <option value="nimbus">Nimbus original body</option>
          </select>
        </Field>
        <Field id="wh-max" label="Max in flight" hint="(blank: the gateway's default)">
          <input
            id="wh-max"
            type="number"
            min={1}
            max={1000}
            value={v.max_in_flight ?? ''}
            onInput={(e) => setV({ ...v, max_in_flight: value(e) === '' ? null : Number(value(e)) })}
          />
        </Field>
      </div>
      {props.editing ? (
        <label class="check">
          <input type="checkbox" id="wh-enabled" checked={v.enabled} onChange={(e) => setV({ ...v, enabled: checked(e) })} />
          <span>Enabled (while disabled, deliveries are held and sent when it is enabled again)</span>
        </label>
      ) : null}
      <div class="actions">
        <button class="primary" type="submit" disabled={props.busy || !!invalid}>
          {props.busy ? 'Saving…' : props.submitLabel}
        </button>
      </div>
    </Form>
  );
}
