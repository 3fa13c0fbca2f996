import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Api, Session, currentPortalSession, openPortalLink, operatorSession, whenSessionEnds } from './api';
import { DeliveriesPage, DeliveryPage } from './clinic/deliveries-page';
import { EventTypesPage } from './clinic/event-types-page';
import { NewWebhookPage, WebhooksPage } from './clinic/webhooks-page';
import { WebhookPage } from './clinic/webhook-page';
import { when } from './format';
import { ClinicPage } from './operator/clinic-page';
import { ClinicsPage } from './operator/clinics-page';
import { DeadLettersPage } from './operator/dead-letters-page';
import { Route, href, navigate, useRoute } from './router';
import { useAction } from './ui/use-load';
import { ErrorNotice, Field, Form, Loading, Notice, PageTitle, value } from './ui/widgets';

/**
 * The Switchyard console. A clinic arrives through a portal link (`/console#portal=swp_…`): the token is
 * taken out of the address at once and swapped for an HttpOnly cookie, so it is in no URL after that. An
 * operator signs in with the admin token, which stays in this page's memory only.
 */
function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const shown = useRef(session);
  shown.current = session;
  useEffect(() => {
    whenSessionEnds((ended) => {
      // only the session on screen: a late answer to an earlier session's call (or a wrong token typed at sign-in) changes nothing
      if (shown.current !== ended) return;
      setSession(null);
      setNote(null);
      setProblem(
        ended.kind === 'clinic'
          ? 'Your console session has ended: it expired or was revoked, or your clinic was disabled. Ask your Switchyard operator for a new console link.'
          : 'The admin token is no longer accepted. Sign in again.',
      );
    });
    return () => whenSessionEnds(null);
  }, []);
  useEffect(() => {
    const open = (token: string) => {
      // First thing: the token leaves the address bar and the history entry.
      history.replaceState(null, '', `${location.pathname}${href('webhooks')}`);
      setSession(undefined);
      setNote(null);
      openPortalLink(token).then(
        (s) => (setProblem(null), setSession(s)),
        async (err: Error) => {
          // A link opens once; clicked again while its session lasts, this browser is still signed in: say so, and go on.
          // The answer does not say why the link failed (used, expired, revoked) nor whose it was: the note claims neither.
          const live = await currentPortalSession().catch(() => null);
          if (live) {
            const name = live.kind === 'clinic' ? live.clinic.name : 'the console';
            setNote(`This console link cannot be opened (a link opens once, and expires). This browser is still signed in to ${name}: that is what is shown.`);
            setSession(live);
            return;
          }
          setProblem(`This console link cannot be opened: ${err.message}`);
          setSession(null);
        },
      );
    };
    const linkToken = () => /^#portal=([A-Za-z0-9_-]+)$/.exec(location.hash)?.[1];
    // A link pasted into a tab that has the console open changes only the fragment: no reload, so it is watched for.
    const onHashChange = () => {
      const token = linkToken();
      if (token) open(token);
    };
    addEventListener('hashchange', onHashChange);
    const token = linkToken();
    if (token) open(token);
    else
      currentPortalSession().then(setSession, (err: Error) => {
        setProblem(err.message);
        setSession(null);
      });
    return () => removeEventListener('hashchange', onHashChange);
  }, []);

  if (session === undefined) return <Loading what="the console" />;
  if (session === null) return <SignIn problem={problem} onSignedIn={setSession} />;
  return <Shell session={session} note={note} onSignOut={() => (setSession(null), setProblem(null), setNote(null), navigate(''))} />;
}

function SignIn({ problem, onSignedIn }: { problem: string | null; onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const signIn = useAction(() => operatorSession(token));
  return (
    <main id="main" class="signin">
      <div class="panel">
        <PageTitle>Switchyard console</PageTitle>
        <ErrorNotice error={problem} />
        <p>
          <strong>Clinics:</strong> open the console link your Switchyard operator sent you. A link opens once and expires; ask for a new one if it no longer works.
        </p>
        <h2>Operators</h2>
        <ErrorNotice error={signIn.error} />
        <Form label="Operator sign-in" onSubmit={() => void signIn.go().then((s) => s && (setToken(''), onSignedIn(s), navigate(href('clinics'))))}>
          <Field id="admin-token" label="Admin token" hint="(kept in this page's memory only)">
            <input id="admin-token" type="password" autoComplete="off" required value={token} onInput={(e) => setToken(value(e))} />
          </Field>
          <button class="primary" type="submit" disabled={signIn.busy}>
            Sign in
          </button>
        </Form>
      </div>
    </main>
  );
}

const CLINIC_NAV = [
  ['webhooks', 'Webhooks'],
  ['deliveries', 'Deliveries'],
  ['event-types', 'Event types'],
] as const;
const OPERATOR_NAV = [
  ['clinics', 'Clinics'],
  ['dead-letters', 'Dead letters'],
] as const;

function Shell({ session, note, onSignOut }: { session: Session; note: string | null; onSignOut: () => void }) {
  const route = useRoute();
  const api = new Api(session);
  const nav = session.kind === 'clinic' ? CLINIC_NAV : OPERATOR_NAV;
  const section = route.path[0] ?? nav[0][0];
  const signOut = useAction(async () => {
    if (session.kind === 'clinic') await api.del('/api/portal/session');
    onSignOut();
    return true;
  });
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('page-title')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Switchyard</span>
        <span class="who" data-testid="who">
          {session.kind === 'clinic' ? session.clinic.name : 'Operator'}
        </span>
        <nav aria-label="Sections">
          {nav.map(([key, label]) => (
            <a href={href(key)} aria-current={section === key ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button type="button" onClick={() => void signOut.go()} disabled={signOut.busy}>
          Sign out
        </button>
      </header>
      <main id="main">
        {note ? <Notice kind="info">{note}</Notice> : null}
        <ErrorNotice error={signOut.error} />
        {session.kind === 'clinic' ? (
          <ClinicRoutes api={api} route={route} clinicId={session.clinic.id} expiresAt={session.expiresAt} />
        ) : (
          <OperatorRoutes api={api} route={route} />
        )}
      </main>
    </>
  );
}

function ClinicRoutes({ api, route, clinicId, expiresAt }: { api: Api; route: Route; clinicId: string; expiresAt: string }) {
  const [section = 'webhooks', id] = route.path;
  const page =
    section === 'webhooks' && id === 'new' ? <NewWebhookPage api={api} clinicId={clinicId} /> :
    section === 'webhooks' && id ? <WebhookPage api={api} id={id} key={id} /> :
    section === 'deliveries' && id ? <DeliveryPage api={api} id={id} key={id} /> :
    section === 'deliveries' ? <DeliveriesPage api={api} route={route} /> :
    section === 'event-types' ? <EventTypesPage api={api} /> :
    <WebhooksPage api={api} />;
  return (
    <>
      {page}
      <p class="small muted">This session ends {when(expiresAt)}.</p>
    </>
  );
}

function OperatorRoutes({ api, route }: { api: Api; route: Route }) {
  const [section = 'clinics', id] = route.path;
  if (section === 'clinics' && id) return <ClinicPage api={api} id={id} key={id} />;
  if (section === 'dead-letters') return <DeadLettersPage api={api} />;
  return <ClinicsPage api={api} />;
}


render(<App />, document.getElementById('app')!);
