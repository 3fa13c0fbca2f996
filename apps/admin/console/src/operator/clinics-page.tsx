import { useState } from 'preact/hooks';
import type { Api, Clinic, Page } from '../api';
import { when } from '../format';
import { href } from '../router';
import { useAction, useLoad } from '../ui/use-load';
import { Badge, ErrorNotice, Field, Form, Loading, PageTitle, SecretBox, value } from '../ui/widgets';

/** Operators: every clinic, and onboarding a new one (its first API key is shown once). */
export function ClinicsPage({ api }: { api: Api }) {
  const clinics = useLoad(() => api.get<Page<Clinic>>('/admin/clinics?limit=500'), []);
  const [name, setName] = useState('');
  const create = useAction(async () => {
    const c = await api.post<Clinic & { api_key: string }>('/admin/clinics', { name });
    setName('');
    clinics.reload();
    return c;
  });
  return (
    <>
      <PageTitle>Clinics</PageTitle>
      <section class="panel" aria-labelledby="new-clinic-h">
        <h2 id="new-clinic-h">Onboard a clinic</h2>
        <ErrorNotice error={create.error} />
        {create.result ? (
          <SecretBox
            label={`Clinic “${create.result.name}” created. Its API key (for Nimbus's X-API-Key):`}
            value={create.result.api_key}
            note=" Shown only now. Give it to the clinic for Nimbus OS; open the clinic to issue a console link."
          />
        ) : null}
        <Form label="Onboard a clinic" onSubmit={() => void create.go()}>
          <div class="row">
            <Field id="clinic-name" label="Name">
              <input id="clinic-name" type="text" required maxLength={200} value={name} onInput={(e) => setName(value(e))} />
            </Field>
            <div class="actions field">
              <button class="primary" type="submit" disabled={create.busy}>
                Create clinic
              </button>
            </div>
          </div>
        </Form>
      </section>
      <ErrorNotice error={clinics.error} />
      {!clinics.data ? (
        <Loading what="clinics" />
      ) : (
        <section class="panel table-wrap" aria-label="Clinics">
          <table class="stack" data-testid="clinics">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th class="hide-narrow">Created</th>
                <th class="hide-narrow">Id</th>
              </tr>
            </thead>
            <tbody>
              {clinics.data.items.map((c) => (
                <tr key={c.id}>
                  <td data-label="Name" class="wrap">
                    <a href={href('clinics', c.id)}>{c.name}</a>
                  </td>
                  <td data-label="State">{c.enabled ? <Badge kind="on">enabled</Badge> : <Badge kind="off">disabled</Badge>}</td>
                  <td data-label="Created" class="hide-narrow">{when(c.created_at)}</td>
                  <td data-label="Id" class="hide-narrow mono small">{c.id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}
