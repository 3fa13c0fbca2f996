import type { Api, EventType } from '../api';
import { useLoad } from '../ui/use-load';
import { ErrorNotice, Loading, PageTitle } from '../ui/widgets';

/** The catalog: what each event means, its JSON Schema and the guide's example. */
export function EventTypesPage({ api }: { api: Api }) {
  const catalog = useLoad(() => api.get<{ items: EventType[] }>('/api/external/event-types'), []);
  return (
    <>
      <PageTitle>Event types</PageTitle>
      <ErrorNotice error={catalog.error} />
      {!catalog.data ? <Loading what="event types" /> : null}
      {catalog.data?.items.map((t) => (
        <section class="panel" aria-labelledby={`t-${t.name}`} key={t.name}>
          <h2 id={`t-${t.name}`}>
            <code>{t.name}</code>
          </h2>
          <p>{t.description}</p>
          <details>
            <summary>Example body</summary>
            <pre>{JSON.stringify(t.example, null, 2)}</pre>
          </details>
          <details>
            <summary>JSON Schema</summary>
            <pre>{JSON.stringify(t.schema, null, 2)}</pre>
          </details>
        </section>
      ))}
    </>
  );
}
