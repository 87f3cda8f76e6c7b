// Drives one headless Chromium (Debian's, never a downloaded build) through the
// platform's sign-in, sign-up and consent pages for the Go tests beside this
// folder.
//
// Protocol: the Go test writes one JSON command per line on stdin; this script
// answers each with one JSON line on stdout. The first line it prints says
// whether the browser started. It never judges what it sees: it reports what
// each page showed (computed styles, texts, console messages, CSP violations,
// dialogs, requests) and the Go test decides. It fails a command only when the
// page it needs to act on is not there. Diagnostics go to stderr.
//
// Command: {name, url, callback, account: "signin"|"signup", email, password,
//           decision: "approve"|"deny", shots}
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Each page is looked at in these viewports; the dark variant is screenshot
// only, for a person to review.
const VIEWPORTS = [
  { label: 'phone', width: 390, height: 844, colorScheme: 'light', check: true },
  { label: 'desktop', width: 1280, height: 800, colorScheme: 'light', check: true },
  { label: 'phone-dark', width: 390, height: 844, colorScheme: 'dark', check: false },
];

const STEP_TIMEOUT_MS = 15000;

function log(...args) {
  process.stderr.write(`[pages.mjs] ${args.join(' ')}\n`);
}

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// classify names the page by what it contains, not by its wording.
async function classify(page, callback) {
  const url = page.url();
  if (url.startsWith(callback)) return 'callback';
  return page.evaluate(() => {
    if (document.querySelector('button[name="decision"]')) return 'consent';
    const pw = document.querySelectorAll('form input[type="password"]').length;
    const path = location.pathname;
    if (pw > 0 && path.endsWith('/signup')) return 'signup';
    if (pw > 0 && path.endsWith('/signin')) return 'signin';
    return 'other';
  });
}

// pageText is the visible text of the page, squeezed, for error messages.
async function pageText(page) {
  try {
    const t = await page.evaluate(() => document.body ? document.body.innerText : '');
    return t.replace(/\s+/g, ' ').trim().slice(0, 600);
  } catch (e) {
    return `(no text: ${e.message})`;
  }
}

// styleFacts reads what proves the stylesheet applied: computed styles of the
// card, the fields and the primary button next to an unstyled reference
// button, plus whether the page is wider than the viewport.
async function styleFacts(page) {
  return page.evaluate(() => {
    const pick = (el, props) => {
      if (!el) return null;
      const cs = getComputedStyle(el);
      const out = {};
      for (const p of props) out[p] = cs.getPropertyValue(p);
      return out;
    };
    const ref = document.createElement('button');
    ref.textContent = 'reference';
    document.documentElement.appendChild(ref);
    const reference = pick(ref, ['background-color', 'color', 'border-radius', 'padding-top']);
    ref.remove();
    let rules = 0;
    const sheets = [];
    for (const s of document.styleSheets) {
      let n = -1;
      try { n = s.cssRules.length; } catch { /* cross-origin or blocked */ }
      sheets.push({ href: s.href, rules: n });
      if (n > 0) rules += n;
    }
    const primary = document.querySelector('.button-primary, button[type="submit"]');
    const field = document.querySelector('input[type="email"], input[type="password"]');
    const vw = document.documentElement.clientWidth;
    // Elements that stick out of the viewport on the right make the page scroll sideways.
    const wide = [];
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 1) {
        wide.push(`${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''} right=${Math.round(r.right)}`);
      }
    }
    return {
      sheets,
      rules,
      card: pick(document.querySelector('.card'), ['background-color', 'border-radius', 'box-shadow', 'padding-left']),
      primary: pick(primary, ['background-color', 'color', 'border-radius', 'padding-top']),
      field: field ? pick(field, ['border-radius', 'padding-top', 'width']) : null,
      reference,
      viewportWidth: vw,
      scrollWidth: document.documentElement.scrollWidth,
      wide: wide.slice(0, 10),
    };
  });
}

// observe looks at the current page in every viewport and screenshots it.
async function observe(page, cmd, kind, report) {
  const seen = { kind, url: page.url(), title: await page.title(), views: [] };
  for (const vp of VIEWPORTS) {
    await page.setViewportSize({ width: vp.width, height: vp.height });
    await page.emulateMedia({ colorScheme: vp.colorScheme });
    const view = { viewport: vp.label, width: vp.width, height: vp.height };
    if (vp.check) view.style = await styleFacts(page);
    view.screenshot = join(cmd.shots, `${cmd.name}-${kind}-${vp.label}.png`);
    await page.screenshot({ path: view.screenshot, fullPage: true });
    seen.views.push(view);
  }
  await page.setViewportSize({ width: VIEWPORTS[0].width, height: VIEWPORTS[0].height });
  await page.emulateMedia({ colorScheme: 'light' });
  report.pages.push(seen);
  return seen;
}

// consentFacts reads what the consent page tells the user.
async function consentFacts(page) {
  return page.evaluate(() => {
    const text = (sel) => {
      const el = document.querySelector(sel);
      return el ? el.textContent.replace(/\s+/g, ' ').trim() : null;
    };
    const name = document.querySelector('.client-name');
    return {
      heading: text('h1'),
      clientNameText: name ? name.textContent : null,
      clientNameChildElements: name ? name.children.length : -1,
      imagesInPage: document.querySelectorAll('img').length,
      facts: text('.facts'),
      warning: text('.notice-warn'),
      scopes: [...document.querySelectorAll('.scopes code.scope, .scopes .scope')].map((e) => e.textContent.trim()),
      account: text('.account-line'),
      buttons: [...document.querySelectorAll('button[name="decision"]')].map((b) => b.value),
    };
  });
}

// act clicks the element and waits for the navigation it starts.
async function act(page, locator, what) {
  const count = await locator.count();
  if (count !== 1) {
    throw new Error(`${what}: expected one element, found ${count} on ${page.url()}: ${await pageText(page)}`);
  }
  await Promise.all([
    page.waitForNavigation({ timeout: STEP_TIMEOUT_MS, waitUntil: 'load' }),
    locator.click({ timeout: STEP_TIMEOUT_MS }),
  ]);
}

// expectKind fails the command unless the current page is of the wanted kind.
async function expectKind(page, cmd, want, after) {
  const kind = await classify(page, cmd.callback);
  if (kind !== want) {
    throw new Error(`after ${after}: expected the ${want} page, got ${kind} page ${page.url()}: ${await pageText(page)}`);
  }
}

async function typeInto(locator, text) {
  await locator.click({ timeout: STEP_TIMEOUT_MS });
  await locator.pressSequentially(text, { timeout: STEP_TIMEOUT_MS });
}

async function run(browser, cmd) {
  const report = {
    name: cmd.name, ok: false, error: '', pages: [], consent: null, callback: null,
    console: [], pageErrors: [], csp: [], dialogs: [], failedRequests: [], responses: [],
  };
  const context = await browser.newContext({
    viewport: { width: VIEWPORTS[0].width, height: VIEWPORTS[0].height },
    colorScheme: 'light',
    locale: 'en-US',
  });
  try {
    // Reported from inside the page as they happen; survives navigations.
    await context.exposeBinding('__mcpObsReportCSP', (_src, v) => { report.csp.push(v); });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__mcpObsReportCSP({
          directive: e.effectiveDirective || e.violatedDirective,
          blockedURI: e.blockedURI,
          sourceFile: e.sourceFile,
          documentURI: e.documentURI,
        });
      });
    });
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('console', (m) => report.console.push({ type: m.type(), text: m.text(), url: page.url(), source: m.location().url || '' }));
    page.on('pageerror', (e) => report.pageErrors.push(String(e && e.message ? e.message : e)));
    page.on('dialog', (d) => {
      report.dialogs.push({ type: d.type(), message: d.message(), url: page.url() });
      d.dismiss().catch(() => {});
    });
    page.on('requestfailed', (r) => {
      // A navigation replaced by the next one is not a failure of the page.
      const f = r.failure();
      if (f && f.errorText === 'net::ERR_ABORTED' && r.isNavigationRequest()) return;
      report.failedRequests.push({ url: r.url(), error: f ? f.errorText : '' });
    });
    page.on('response', (r) => {
      report.responses.push({
        url: r.url(), status: r.status(), type: r.request().resourceType(),
        contentType: r.headers()['content-type'] || '',
        csp: r.headers()['content-security-policy'] || '',
      });
    });

    await page.goto(cmd.url, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
    await expectKind(page, cmd, 'signin', 'opening the authorization URL');
    await observe(page, cmd, 'signin', report);

    const form = page.locator('form:has(input[type="password"])');
    if (cmd.account === 'signup') {
      await act(page, page.locator('a[href*="/signup"]'), 'the link to the sign-up page');
      await expectKind(page, cmd, 'signup', 'following the sign-up link');
      await observe(page, cmd, 'signup', report);
      await typeInto(form.locator('input[type="email"]'), cmd.email);
      const passwords = form.locator('input[type="password"]');
      for (let i = 0; i < await passwords.count(); i++) {
        await typeInto(passwords.nth(i), cmd.password);
      }
      await act(page, form.locator('button[type="submit"]'), 'the sign-up button');
      await expectKind(page, cmd, 'consent', 'signing up');
    } else {
      await typeInto(form.locator('input[type="email"]'), cmd.email);
      await typeInto(form.locator('input[type="password"]'), cmd.password);
      await act(page, form.locator('button[type="submit"]'), 'the sign-in button');
      await expectKind(page, cmd, 'consent', 'signing in');
    }

    await observe(page, cmd, 'consent', report);
    report.consent = await consentFacts(page);

    await act(page, page.locator(`button[name="decision"][value="${cmd.decision}"]`), `the ${cmd.decision} button`);
    await expectKind(page, cmd, 'callback', `pressing ${cmd.decision}`);
    report.callback = { url: page.url(), text: await pageText(page) };
    report.ok = true;
  } catch (e) {
    report.error = String(e && e.stack ? e.stack : e);
  } finally {
    await context.close().catch(() => {});
  }
  return report;
}

async function main() {
  let browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    send({ ready: false, error: `launch ${executablePath}: ${e.message}` });
    process.exit(1);
  }
  send({ ready: true, version: browser.version() });

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      send({ ok: false, error: `bad command: ${e.message}` });
      continue;
    }
    log(`running ${cmd.name}`);
    send(await run(browser, cmd));
  }
  await browser.close();
}

main().catch((e) => {
  log(`fatal: ${e.stack || e}`);
  process.exit(1);
});
