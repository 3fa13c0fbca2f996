import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sendShipment, waitForDeliveries } from '../delivery/delivery-support';
import { ReceivedRequest, TestReceiver, signedBy as verifies } from '../support/receiver';
import { TestStack, eventually } from '../support/stack';
import { launchBrowser, watchProblems } from './support/browser';
import { screenshotDir } from './support/screenshots';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildConsole } = require('../../apps/admin/console/build.js') as { buildConsole: (outDir?: string) => Promise<string[]> };


const XSS_NAME = '<img src=x onerror=alert(1)>';

/**
 * The console in a real Chromium, as its users would use it: an operator onboards a clinic and hands it a
 * console link; the clinic adds a webhook, sends a test event and sees its delivery and attempt, replays a
 * dead letter, rotates the secret (the receiver verifies both signatures during the overlap); a second
 * clinic's session sees and touches none of it. Screenshots at 1280 and 390 px wide.
 */
describe('console in a browser', () => {
  let stack: TestStack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const good = new TestReceiver();
  const failing = new TestReceiver();
  const shots = screenshotDir();
  let operator: Page;
  let clinicPage: Page;
  // what the scenario learns on the way
  const a = { id: '', apiKey: '', linkUrl: '', goodHookId: '', failingHookId: '', secret: '', deliveryId: '' };

  async function newPage(width = 1280): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, baseURL: stack.adminUrl });
    contexts.push(context);
    const page = await context.newPage();
    problemsOf.set(page, watchProblems(page));
    return page;
  }
  /** Each page's script errors, CSP violations, dialogs and unexpected error answers, checked after every test. */
  const problemsOf = new Map<Page, string[]>();

  async function shoot(page: Page, name: string) {
    const width = page.viewportSize()!.width;
    await page.screenshot({ path: join(shots, `${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    // nothing wider than the phone: the layout reflows instead of scrolling sideways (tables scroll inside their panel)
    const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number);
    expect(`${name}: ${overflow}`).toBe(`${name}: 390`);
    await page.screenshot({ path: join(shots, `${name}-390.png`), fullPage: true });
    await page.setViewportSize({ width, height: 900 });
  }

  /** Presses Tab until the focused element's text or label matches (keyboard only: no click); throws after `max` presses. */
  async function tabTo(page: Page, matcher: RegExp, max = 60): Promise<void> {
    const seen: string[] = [];
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      const label = await page.evaluate(() => {
        const el = (globalThis as any).document.activeElement;
        if (!el) return '';
        return [el.tagName, el.getAttribute('aria-label'), el.labels?.[0]?.textContent, el.textContent].filter(Boolean).join(' ').replace(/\s+/g, ' ').trim();
      });
      if (matcher.test(label)) return;
      seen.push(label);
    }
    throw new Error(`no focusable element matching ${matcher} within ${max} Tab presses; focused: ${seen.join(' | ')}`);
  }

  /** Waits for a page to open as a keyboard user meets it: its heading shown and holding the focus. */
  async function opened(page: Page, heading: string): Promise<void> {
    await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
    const focused = await page.evaluate(() => (globalThis as any).document.activeElement?.textContent?.trim());
    expect(focused).toBe(heading);
  }

  const secretShown = async (page: Page) => (await page.getByTestId('secret').last().textContent())!.trim();

  beforeAll(async () => {
    const [built] = await Promise.all([
      buildConsole(),
      TestStack.start(__filename, { RETRY_SCHEDULE: '50ms,50ms', RETRY_JITTER: '0' }).then((s) => (stack = s)),
      good.start(),
      failing.start(),
      launchBrowser().then((b) => (browser = b)),
    ]);
    expect(built).toHaveLength(3);
    mkdirSync(shots, { recursive: true });
    operator = await newPage();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await stack?.stop();
    await good.stop();
    await failing.stop();
  });

  afterEach(() => {
    // every page's script errors, CSP violations, dialogs and unexpected error answers during the test
    const seen = [...problemsOf.values()].flatMap((p) => p.splice(0));
    expect(seen).toEqual([]);
  });

  it('lets an operator sign in, onboard a clinic and create a console link for it', async () => {
    await operator.goto('/console');
    await operator.getByLabel('Admin token').fill(stack.config.ADMIN_TOKEN);
    await operator.getByRole('button', { name: 'Sign in' }).click();
    await operator.getByRole('heading', { name: 'Clinics' }).waitFor();
    await operator.getByLabel('Name').fill('Riverside Family Clinic');
    await operator.getByRole('button', { name: 'Create clinic' }).click();
    a.apiKey = await secretShown(operator);
    expect(a.apiKey).toMatch(/^swy_/);
    await operator.getByRole('link', { name: 'Riverside Family Clinic' }).click();
    await operator.getByRole('heading', { name: 'Riverside Family Clinic' }).waitFor();
    a.id = decodeURIComponent(operator.url().split('#/clinics/')[1]!);
    await operator.getByLabel('Valid for').selectOption('3600');
    await operator.getByRole('button', { name: 'Create console link' }).click();
    a.linkUrl = await operator.locator('#portal-url').inputValue();
    expect(a.linkUrl).toMatch(new RegExp(`^${stack.adminUrl}/console#portal=swp_`));
    await operator.getByTestId('portal-links').getByText('not opened yet').waitFor();
  });

  it('opens the link as that clinic: the token leaves the address at once and the cookie is out of reach of scripts', async () => {
    clinicPage = await newPage();
    await clinicPage.goto(a.linkUrl);
    await clinicPage.getByRole('heading', { name: 'Webhooks' }).waitFor();
    expect(await clinicPage.getByTestId('who').textContent()).toBe('Riverside Family Clinic');
    expect(clinicPage.url()).toBe(`${stack.adminUrl}/console#/webhooks`);
    expect(await clinicPage.evaluate(() => (globalThis as any).document.cookie)).toBe('');
    const cookies = await clinicPage.context().cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'switchyard_portal', httpOnly: true, sameSite: 'Strict' })]);
    // the link worked once: opening it again (another browser) fails
    const other = await newPage();
    await other.goto(a.linkUrl);
    await other.getByText(/This console link cannot be opened/).waitFor();
    expect(other.url()).not.toContain('swp_');
  });

  it('adds a webhook, sends a test event and shows its delivery and attempt', async () => {
    await clinicPage.getByRole('link', { name: 'Add webhook' }).click();
    await clinicPage.getByLabel(/Endpoint URL/).fill(good.url);
    await clinicPage.getByRole('button', { name: 'Create webhook' }).click();
    a.secret = await secretShown(clinicPage);
    expect(a.secret).toMatch(/^whsec_/);
    await clinicPage.getByRole('button', { name: 'Open the webhook' }).click();
    await clinicPage.getByRole('heading', { name: 'Settings' }).waitFor();
    a.goodHookId = decodeURIComponent(clinicPage.url().split('#/webhooks/')[1]!);

    await clinicPage.getByLabel('Include the example of').selectOption('shipment:created');
    await clinicPage.getByRole('button', { name: 'Send test event' }).click();
    await clinicPage.getByRole('link', { name: 'Open its delivery' }).click();
    await clinicPage.getByTestId('delivery-facts').locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 15_000 });
    const attempt = clinicPage.getByTestId('attempts').locator('tbody tr');
    expect(await attempt.count()).toBe(1);
    expect(await attempt.first().textContent()).toMatch(/success200\d+ ms\{"ok":true\}/);
    expect(await clinicPage.getByTestId('delivery-facts').textContent()).toContain('test event');

    expect(good.requests).toHaveLength(1);
    const body = JSON.parse(good.requests[0]!.body);
    expect(body).toMatchObject({ type: 'com.nimbus-os.switchyard.test', data: { test: true, example_of: 'shipment:created' } });
    expect(verifies(a.secret, good.requests[0]!)).toBe(true);
    a.deliveryId = decodeURIComponent(clinicPage.url().split('#/deliveries/')[1]!);
    await shoot(clinicPage, 'delivery');
  });

  it("replays a failing webhook's dead letter from the page, and it arrives", async () => {
    failing.respond = () => ({ status: 503, body: 'maintenance' });
    await clinicPage.getByRole('link', { name: 'Webhooks' }).click();
    await clinicPage.getByRole('link', { name: 'Add webhook' }).click();
    await clinicPage.getByLabel(/Endpoint URL/).fill(failing.url);
    await clinicPage.getByLabel('Body format').selectOption('nimbus');
    await clinicPage.getByRole('button', { name: 'Create webhook' }).click();
    await clinicPage.getByRole('button', { name: 'Open the webhook' }).click();
    await clinicPage.getByRole('heading', { name: 'Settings' }).waitFor();
    a.failingHookId = decodeURIComponent(clinicPage.url().split('#/webhooks/')[1]!);

    await sendShipment(stack, a.apiKey, 'browser-dead-letter');
    await failing.waitFor(3); // first try + 2 retries, then a dead letter
    await good.waitFor(2);
    await clinicPage.getByRole('button', { name: 'Refresh' }).first().click();
    await clinicPage.getByTestId('health').getByText('dead letters').waitFor();
    await eventually(async () => (await clinicPage.getByRole('button', { name: 'Preview' }).click(), /1 dead letter would/.test((await clinicPage.getByTestId('replay-preview').textContent()) ?? '')), 10_000, 'the preview to count 1');

    failing.respond = () => ({ status: 200, body: 'back' });
    await clinicPage.getByRole('button', { name: 'Replay 1' }).click();
    await clinicPage.getByText('1 delivery queued again.').waitFor();
    await failing.waitFor(4);
    expect(JSON.parse(failing.requests[3]!.body)).toMatchObject({ event_name: 'shipment:created', event_data: { shipment_id: 'browser-dead-letter' } });
    expect(failing.requests[3]!.headers['webhook-id']).toBe(failing.requests[0]!.headers['webhook-id']);

    await clinicPage.getByRole('link', { name: 'Deliveries' }).first().click();
    await clinicPage.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await clinicPage.getByLabel('Status').selectOption('succeeded');
    await clinicPage.getByRole('button', { name: 'Apply' }).click();
    await eventually(async () => (await clinicPage.getByTestId('deliveries').locator('tbody tr').count()) === 3, 10_000, 'three delivered');
    expect(clinicPage.url()).toContain('status=succeeded');
  });

  it('rotates the signing secret; during the overlap the receiver verifies both signatures', async () => {
    await clinicPage.goto(`/console#/webhooks/${a.goodHookId}`);
    await clinicPage.getByRole('heading', { name: 'Signing secret' }).waitFor();
    await clinicPage.getByRole('button', { name: 'Show secret' }).click();
    expect(await secretShown(clinicPage)).toBe(a.secret);
    await clinicPage.getByLabel('Old secret keeps signing for').selectOption('86400');
    await clinicPage.getByRole('button', { name: 'Rotate secret' }).click();
    await clinicPage.getByText('New secret:').waitFor();
    const newSecret = await secretShown(clinicPage);
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(a.secret);

    const before = good.requests.length;
    await sendShipment(stack, a.apiKey, 'after-rotation');
    await good.waitFor(before + 1);
    const r = good.requests[before]!;
    const signatures = String(r.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.map((s) => [verifies(a.secret, r, s), verifies(newSecret, r, s)])).toEqual(expect.arrayContaining([[true, false], [false, true]]));
    // a reload keeps the session (the cookie) and shows no secret (nothing worth a secret scanner in the docs' pictures)
    await clinicPage.reload();
    await clinicPage.getByTestId('delivery-chart').waitFor();
    expect(await clinicPage.getByTestId('secret').count()).toBe(0);
    await shoot(clinicPage, 'webhook');
  });

  it("gives a second clinic's session none of the first clinic's data, and no way to touch it", async () => {
    const b = await stack.createClinic('Lakeside Pharmacy Clinic');
    const link = (await stack.admin('POST', `/admin/clinics/${b.id}/portal-sessions`, {})).body.url;
    const bPage = await newPage();
    await bPage.goto(link);
    await bPage.getByRole('heading', { name: 'Webhooks' }).waitFor();
    expect(await bPage.getByTestId('who').textContent()).toBe('Lakeside Pharmacy Clinic');
    await bPage.getByText('No webhooks yet').waitFor();

    await bPage.goto(`/console#/webhooks/${a.goodHookId}`);
    await bPage.getByText('webhook not found').waitFor();
    await bPage.goto(`/console#/deliveries/${a.deliveryId}`);
    await bPage.getByText('delivery not found').waitFor();
    await bPage.goto('/console#/deliveries');
    await bPage.getByText('No deliveries match.').waitFor();
    const page = await bPage.content();
    for (const secret of [a.id, a.goodHookId, a.failingHookId, a.deliveryId, 'Riverside', good.url, failing.url]) expect(page).not.toContain(secret);

    // the same calls the page makes, with B's own CSRF token, aimed at A's ids
    const csrf = (await stack.admin('GET', '/api/portal/session', undefined, { authorization: '', cookie: `switchyard_portal=${(await bPage.context().cookies())[0]!.value}` })).body.csrf_token;
    const statuses = await bPage.evaluate(
      async ({ ids, csrf: token }) => {
        const call = (method: string, path: string, body?: unknown) =>
          fetch(path, {
            method,
            headers: { 'x-csrf-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            body: body === undefined ? undefined : JSON.stringify(body),
          }).then((r) => r.status);
        return [
          await call('POST', `/api/external/deliveries/${ids.delivery}/resend`),
          await call('POST', `/api/external/webhook/${ids.hook}/test`, {}),
          await call('POST', `/api/external/webhook/${ids.hook}/rotate-secret`, {}),
          await call('PATCH', `/api/external/webhook/${ids.hook}`, { enabled: false }),
          await call('DELETE', `/api/external/webhook/${ids.hook}`),
          await call('GET', `/api/external/webhook/${ids.hook}/secret`),
        ];
      },
      { ids: { delivery: a.deliveryId, hook: a.goodHookId }, csrf },
    );
    expect(statuses).toEqual([404, 404, 404, 404, 404, 404]);
    const hook = await stack.admin('GET', `/api/external/webhook/${a.goodHookId}`);
    expect(hook.body.data).toMatchObject({ enabled: true, webhook_url: good.url });
  });

  it('shows a clinic-supplied name as text: a clinic named like an HTML tag runs no script and adds no element', async () => {
    const x = await stack.createClinic(XSS_NAME);
    await operator.getByRole('link', { name: 'Clinics' }).click();
    await operator.getByRole('heading', { name: 'Clinics' }).waitFor();
    await operator.getByTestId('clinics').getByRole('link', { name: XSS_NAME }).waitFor();
    const link = (await stack.admin('POST', `/admin/clinics/${x.id}/portal-sessions`, {})).body.url;
    const page = await newPage();
    await page.goto(link);
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    expect(await page.getByTestId('who').textContent()).toBe(XSS_NAME);
    for (const p of [operator, page]) expect(await p.evaluate(() => (globalThis as any).document.querySelectorAll('img').length)).toBe(0);
    // (a dialog from alert() would be reported by watchProblems and fail this test in afterEach)

    // and the policy holds even against code that tries: no string becomes script, no inline style applies
    const attempts = await page.evaluate(async () => {
      const d = (globalThis as any).document;
      const violations: string[] = [];
      d.addEventListener('securitypolicyviolation', (e: any) => violations.push(e.effectiveDirective));
      let sink = 'accepted';
      try {
        d.body.innerHTML = '<b>x</b>';
      } catch (e) {
        sink = (e as Error).name;
      }
      const style = d.createElement('style');
      style.textContent = 'body { background: rgb(1, 2, 3) }';
      d.head.append(style);
      await new Promise((r) => setTimeout(r, 200));
      return { sink, background: (globalThis as any).getComputedStyle(d.body).backgroundColor, violations };
    });
    expect(attempts.sink).toBe('TypeError');
    expect(attempts.background).not.toBe('rgb(1, 2, 3)');
    expect(attempts.violations).toEqual(expect.arrayContaining(['require-trusted-types-for', 'style-src-elem']));
    problemsOf.get(page)!.splice(0); // the violations just provoked on purpose
  });

  it('works from the keyboard alone: sign in, onboard, link, add a webhook, send a test event, open and resend its delivery', async () => {
    const op = await newPage();
    await op.goto('/console');
    // like a person, wait for each page to be there before typing: it focuses its heading when it opens
    await opened(op, 'Switchyard console');
    await tabTo(op, /^INPUT Admin token/);
    await op.keyboard.type(stack.config.ADMIN_TOKEN);
    await op.keyboard.press('Enter');
    await opened(op, 'Clinics');
    await tabTo(op, /^INPUT Name/);
    await op.keyboard.type('Keyboard Clinic');
    await op.keyboard.press('Enter');
    await op.getByTestId('secret').waitFor();
    await tabTo(op, /^A Keyboard Clinic$/);
    await op.keyboard.press('Enter');
    await opened(op, 'Keyboard Clinic');
    await tabTo(op, /^BUTTON Create console link/);
    await op.keyboard.press('Enter');
    const link = await op.locator('#portal-url').inputValue();
    expect(link).toContain('#portal=swp_');

    const kb = await newPage();
    await kb.goto(link);
    await opened(kb, 'Webhooks');
    await tabTo(kb, /^A Add webhook/);
    await kb.keyboard.press('Enter');
    await kb.getByLabel(/Endpoint URL/).waitFor();
    await tabTo(kb, /^INPUT Endpoint URL/);
    const before = good.requests.length;
    await kb.keyboard.type(good.url);
    await kb.keyboard.press('Enter');
    await kb.getByTestId('secret').waitFor();
    await tabTo(kb, /^BUTTON Open the webhook/);
    await kb.keyboard.press('Enter');
    await opened(kb, 'Webhook');
    await kb.getByRole('heading', { name: 'Settings' }).waitFor();
    await kb.getByTestId('health').waitFor();
    await tabTo(kb, /^BUTTON Send test event/);
    await kb.keyboard.press('Enter');
    await tabTo(kb, /^A Open its delivery/);
    await kb.keyboard.press('Enter');
    await kb.getByTestId('delivery-facts').locator('.badge', { hasText: 'succeeded' }).waitFor({ timeout: 15_000 });
    await tabTo(kb, /^BUTTON Resend/);
    await kb.keyboard.press('Space');
    await kb.getByText(/Queued again/).waitFor();
    await eventually(async () => (await kb.getByTestId('attempts').locator('tbody tr').count()) === 2, 15_000, 'a second attempt on the page');
    await good.waitFor(before + 2);
    expect(good.requests[before + 1]!.headers['webhook-id']).toBe(good.requests[before]!.headers['webhook-id']);
  });

  /** A fresh clinic with a webhook, and a page holding its console session. */
  async function freshClinicPage(name: string) {
    const c = await stack.createClinic(name);
    const hook = await stack.createSubscriber(c.id, good.url);
    const issued = (await stack.admin('POST', `/admin/clinics/${c.id}/portal-sessions`, {})).body;
    const page = await newPage();
    // Its loads answered: one still under way when a test then ends the session would take the page to the start first.
    const loaded = ['/api/external/webhook', '/api/external/webhook-health'].map((path) =>
      page.waitForResponse((r) => new URL(r.url()).pathname === path),
    );
    await page.goto(issued.url);
    await opened(page, 'Webhooks');
    await Promise.all(loaded);
    return { clinic: c, hook, sessionId: issued.id as string, url: issued.url as string, page };
  }

  it('takes a clinic whose session ended (revoked, expired) back to the start with that said, and signs it out', async () => {
    const revoked = await freshClinicPage('Revoked Session Clinic');
    expect((await stack.admin('DELETE', `/admin/clinics/${revoked.clinic.id}/portal-sessions/${revoked.sessionId}`)).status).toBe(204);
    await revoked.page.getByRole('button', { name: 'Refresh' }).click();
    await opened(revoked.page, 'Switchyard console');
    await revoked.page.getByText(/console session has ended/).waitFor();
    expect(await revoked.page.getByTestId('who').count()).toBe(0);

    // signing out of a session that has already expired: the page leaves it instead of showing an error
    const expired = await freshClinicPage('Expired Session Clinic');
    await stack.db.query(`UPDATE portal_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.sessionId]);
    await expired.page.getByRole('button', { name: 'Sign out' }).click();
    await opened(expired.page, 'Switchyard console');
    expect(await expired.page.getByTestId('who').count()).toBe(0);
  });

  /** Takes the answers a test provoked on purpose (`status of 400`, …) off a page's problems; the rest stay for afterEach. */
  function expectedAnswers(page: Page, statuses: RegExp): void {
    const problems = problemsOf.get(page)!;
    const rest = problems.filter((p) => !statuses.test(p));
    problems.splice(0, problems.length, ...rest);
  }

  it('shows no success left over from an earlier action when the next one fails', async () => {
    const { hook, page } = await freshClinicPage('Second Try Clinic');
    await page.goto(`/console#/webhooks/${hook.id}`);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByLabel(/Max in flight/).fill('5');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    // a URL the browser takes but the server refuses
    await page.getByLabel(/Endpoint URL/).fill('ftp://files.example.test/hook');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').getByText(/webhook_url/).waitFor();
    expect(await page.getByText('Saved.').count()).toBe(0);

    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByText('Test event queued.').waitFor();
    // the webhook is disabled elsewhere (the page still shows it enabled): the next test event is refused
    expect((await stack.admin('PATCH', `/api/external/webhook/${hook.id}`, { enabled: false })).status).toBe(200);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('alert').getByText(/webhook is disabled/).waitFor();
    expect(await page.getByText('Test event queued.').count()).toBe(0);
    expectedAnswers(page, /status of (400|409)/);
  });

  it('clears the delivery filters on the page when Clear clears them from the address', async () => {
    const { page } = await freshClinicPage('Filter Clear Clinic');
    await page.goto('/console#/deliveries');
    await opened(page, 'Deliveries');
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/status=dead/);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForURL(/#\/deliveries$/);
    await eventually(async () => (await page.getByLabel('Status').inputValue()) === '', 3_000, 'the Status filter to show "any"');
    // Apply after Clear lists everything, as the form says
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForTimeout(200);
    expect(page.url()).not.toContain('status=');
  });

  it('lists only what the filters in force match: no rows of earlier filters after a refused filter or a late answer', async () => {
    const { clinic, hook, page } = await freshClinicPage('Late Answer Clinic');
    const key = { authorization: '', 'x-api-key': clinic.apiKey };
    expect((await stack.admin('POST', `/api/external/webhook/${hook.id}/test`, {}, key)).status).toBe(202);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    await opened(page, 'Deliveries');
    const rows = page.getByTestId('deliveries').locator('tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);

    // a range the server refuses: the error, and none of the unfiltered rows as if they matched it
    await page.getByLabel('From').fill('2030-01-02T00:00');
    await page.getByLabel('Until').fill('2030-01-01T00:00');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('alert').getByText(/must be before until/).waitFor();
    expect(await rows.count()).toBe(0);
    expect(await page.getByText('No deliveries match.').count()).toBe(0);
    expectedAnswers(page, /status of 400/);

    // the unfiltered list answers late (a slow connection, a big clinic); the dead-only list asked for after it answers first
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForURL(/#\/deliveries$/);
    await rows.first().waitFor();
    await page.route(/\/api\/external\/deliveries\?limit=25$/, async (route) => {
      await new Promise((r) => setTimeout(r, 1_500));
      await route.continue().catch(() => undefined);
    });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No deliveries match.').waitFor();
    await page.waitForTimeout(2_000); // the late answer has come by now
    expect(await rows.count()).toBe(0);
    expect(page.url()).toContain('status=dead');
    await page.unroute(/\/api\/external\/deliveries/);
  });

  it('deletes a webhook from the keyboard: the confirmation takes the focus, Cancel gives it back', async () => {
    const { clinic, hook, page } = await freshClinicPage('Keyboard Delete Clinic');
    await page.goto(`/console#/webhooks/${hook.id}`);
    await opened(page, 'Webhook');
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    const focused = () =>
      page.evaluate(() => {
        const d = (globalThis as any).document;
        return d.activeElement && d.activeElement !== d.body ? d.activeElement.textContent.trim() : '(nothing: the page itself)';
      });
    await tabTo(page, /^BUTTON Delete webhook/, 80);
    await page.keyboard.press('Enter');
    await page.getByRole('group', { name: 'Confirm deletion' }).waitFor();
    expect(await focused()).toBe('Cancel');
    await page.keyboard.press('Enter');
    expect(await focused()).toBe('Delete webhook…');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab'); // from Cancel to the button that deletes
    expect(await focused()).toBe('Yes, delete it');
    await page.keyboard.press('Enter');
    await opened(page, 'Webhooks');
    const left = await stack.admin('GET', `/api/external/webhook?clinic_id=${clinic.id}`);
    expect(left.body.data).toEqual([]);
  });

  it('opens the console again from a link already used in this browser while its session lasts, saying so', async () => {
    const { url, page } = await freshClinicPage('Link Clicked Twice Clinic');
    // the e-mail's link clicked once more: a new tab of the same browser
    const again = await page.context().newPage();
    problemsOf.set(again, watchProblems(again));
    await again.goto(url);
    await opened(again, 'Webhooks');
    expect(await again.getByTestId('who').textContent()).toBe('Link Clicked Twice Clinic');
    await again.getByRole('status').getByText(/still signed in to Link Clicked Twice Clinic/).waitFor();
    expect(again.url()).not.toContain('swp_');
    // another clinic's link that was revoked: not opened, and not said to be this clinic's link opened again
    const other = await stack.createClinic('Revoked Link Clinic');
    const revoked = (await stack.admin('POST', `/admin/clinics/${other.id}/portal-sessions`, {})).body;
    expect((await stack.admin('DELETE', `/admin/clinics/${other.id}/portal-sessions/${revoked.id}`)).status).toBe(204);
    const third = await page.context().newPage();
    problemsOf.set(third, watchProblems(third));
    await third.goto(revoked.url);
    await opened(third, 'Webhooks');
    const note = (await third.getByRole('status').filter({ hasText: /signed in/ }).textContent()) ?? '';
    expect(note).toMatch(/cannot be opened/);
    expect(note).toMatch(/still signed in to Link Clicked Twice Clinic/);
    expect(note).not.toMatch(/already opened/);
    // a browser without that session: the same link cannot be opened
    const elsewhere = await newPage();
    await elsewhere.goto(url);
    await elsewhere.getByText(/This console link cannot be opened/).waitFor();
  });

  it('opens a new link pasted into a tab that has the console open: swapped, and out of the address', async () => {
    const { clinic, sessionId, page } = await freshClinicPage('Pasted Link Clinic');
    expect((await stack.admin('DELETE', `/admin/clinics/${clinic.id}/portal-sessions/${sessionId}`)).status).toBe(204);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText(/console session has ended/).waitFor();
    // the operator sends a new link; the clinic pastes it into the same tab (only the fragment changes: no reload)
    const fresh = (await stack.admin('POST', `/admin/clinics/${clinic.id}/portal-sessions`, {})).body;
    await page.goto(fresh.url);
    await opened(page, 'Webhooks');
    expect(await page.getByTestId('who').textContent()).toBe('Pasted Link Clinic');
    expect(page.url()).toBe(`${stack.adminUrl}/console#/webhooks`);
    const listed = (await stack.admin('GET', `/admin/clinics/${clinic.id}/portal-sessions`)).body.items;
    expect(listed.find((l: any) => l.id === fresh.id)).toMatchObject({ exchanged_at: expect.any(String) });
  });

  it("lists the one clinic's dead letters the operator picked, even when the list of all answers late", async () => {
    const picked = await stack.createClinic('Picked Dead Letter Clinic');
    const others = await stack.createClinic('Other Dead Letter Clinic');
    for (const c of [picked, others]) {
      const hook = await stack.createSubscriber(c.id, 'http://127.0.0.1:9/refused');
      await sendShipment(stack, c.apiKey, `dead-${c.id}`);
      await waitForDeliveries(stack, hook.id, 'dead');
    }
    const op = await newPage();
    await op.goto('/console');
    await op.getByLabel('Admin token').fill(stack.config.ADMIN_TOKEN);
    await op.getByRole('button', { name: 'Sign in' }).click();
    await op.getByRole('heading', { name: 'Clinics' }).waitFor();
    await op.getByRole('link', { name: 'Dead letters' }).click();
    const rows = op.getByTestId('dead-letters').locator('tbody tr');
    await rows.filter({ hasText: 'Other Dead Letter Clinic' }).waitFor();
    await op.route(/\/admin\/dead-letters\?limit=50$/, async (route) => {
      await new Promise((r) => setTimeout(r, 1_500));
      await route.continue().catch(() => undefined);
    });
    await op.getByRole('button', { name: 'Refresh' }).click();
    await op.getByLabel('Clinic', { exact: true }).selectOption(picked.id);
    await rows.first().waitFor();
    await op.waitForTimeout(2_000); // the late answer of all clinics has come by now
    const clinics = await rows.locator('td[data-label="Clinic"]').allTextContents();
    expect(clinics).toEqual(['Picked Dead Letter Clinic']);
    await op.unroute(/\/admin\/dead-letters/);
  });

  it('says a pasted admin token with characters no HTTP header carries is not a token, not that the server is down', async () => {
    const op = await newPage();
    await op.goto('/console');
    await op.getByLabel('Admin token').fill(`${stack.config.ADMIN_TOKEN}—`); // an em dash a word processor put in
    await op.getByRole('button', { name: 'Sign in' }).click();
    await op.getByText(/not an admin token/).waitFor();
    expect(await op.getByText(/cannot be reached/).count()).toBe(0);
  });

  it('renders the operator and clinic overviews at 1280 and 390 px', async () => {
    await operator.getByRole('link', { name: 'Riverside Family Clinic' }).click();
    await operator.getByRole('heading', { name: 'API keys' }).waitFor();
    await shoot(operator, 'operator-clinic');
    await clinicPage.goto('/console#/webhooks');
    await clinicPage.getByTestId('webhooks').waitFor();
    await shoot(clinicPage, 'webhooks');
    await clinicPage.goto('/console#/deliveries');
    await clinicPage.getByTestId('deliveries').waitFor();
    await shoot(clinicPage, 'deliveries');
  });
});
