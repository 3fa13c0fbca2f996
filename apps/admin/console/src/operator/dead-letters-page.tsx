import { useState } from 'preact/hooks';
import { Api, Clinic, Delivery, Page, query } from '../api';
import { when } from '../format';
import { useAction, useLoad, usePages } from '../ui/use-load';
import { ErrorNotice, Field, Form, Notice, PageTitle, checked, value } from '../ui/widgets';

/** Operators: dead letters across clinics (or of one), replayed by selection. */
export function DeadLettersPage({ api }: { api: Api }) {
  const clinics = useLoad(() => api.get<Page<Clinic>>('/admin/clinics?limit=500'), []);
  const [clinicId, setClinicId] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // Another clinic's rows go at once, and an earlier list answering late is dropped (usePages): else the operator
  // could pick and replay dead letters of clinics other than the one chosen.
  const { items, cursor, load } = usePages(
    (from) => api.get<Page<Delivery>>(`/admin/dead-letters${query({ clinic_id: clinicId, limit: 50, cursor: from })}`),
    clinicId,
    () => setSelected(new Set()),
  );
  const replay = useAction(async () => {
    const r = await api.post<{ queued: number }>('/admin/dead-letters/replay', { ids: [...selected] });
    await load.go(null);
    return r;
  });
  const nameOf = (id: string) => clinics.data?.items.find((c) => c.id === id)?.name ?? id;
  const pick = (id: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  };
  return (
    <>
      <PageTitle>Dead letters</PageTitle>
      <ErrorNotice error={load.error ?? replay.error ?? clinics.error} />
      {replay.result ? <Notice kind="ok">{replay.result.queued} queued again.</Notice> : null}
      <section class="panel">
        <Form label="Replay the selected dead letters" onSubmit={() => void replay.go()}>
          <div class="row">
            <Field id="dl-clinic" label="Clinic">
              <select id="dl-clinic" value={clinicId} onChange={(e) => setClinicId(value(e))}>
                <option value="">all clinics</option>
                {clinics.data?.items.map((c) => (
                  <option value={c.id}>{c.name}</option>
                ))}
              </select>
            </Field>
            <div class="actions field">
              <button type="submit" class="primary" disabled={selected.size === 0 || replay.busy}>
                Replay selected ({selected.size})
              </button>
              <button type="button" onClick={() => void load.go(null)}>
                Refresh
              </button>
            </div>
          </div>
        </Form>
      </section>
      <section class="panel table-wrap" aria-label="Dead letters">
        {items.length === 0 && !load.busy && !load.error ? <p>No dead letters.</p> : null}
        {items.length > 0 ? (
          <table class="stack" data-testid="dead-letters">
            <thead>
              <tr>
                <th>
                  <span class="hide-narrow">Pick</span>
                </th>
                <th>Clinic</th>
                <th>Event</th>
                <th>Dead since</th>
                <th class="num">Attempts</th>
                <th class="hide-narrow">Last error</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td data-label="Pick">
                    <input type="checkbox" aria-label={`Select the dead letter of ${d.event_name} for ${nameOf(d.clinic_id)}`} checked={selected.has(d.id)} onChange={(e) => pick(d.id, checked(e))} />
                  </td>
                  <td data-label="Clinic" class="wrap">{nameOf(d.clinic_id)}</td>
                  <td data-label="Event">
                    <code>{d.event_name}</code>
                  </td>
                  <td data-label="Dead since">{when(d.dead_at)}</td>
                  <td data-label="Attempts" class="num">{d.attempt_count}</td>
                  <td data-label="Last error" class="hide-narrow wrap small">{d.last_error ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {cursor ? (
          <button type="button" onClick={() => void load.go(cursor)} disabled={load.busy}>
            Load more
          </button>
        ) : null}
      </section>
    </>
  );
}
