// A headless MCP client built on the official TypeScript SDK
// (@modelcontextprotocol/sdk), run by the mcp-obs end-to-end tests
// (internal/e2e/tsclient_test.go).
//
// It connects to a protected MCP server exactly as an MCP host would: the
// first request answers 401, the SDK discovers the protected-resource and
// authorization-server metadata, registers a client dynamically and asks the
// provider below to send the user to the authorization URL. Instead of a
// browser, the provider signs in and consents through the platform's pages
// with fetch and a tiny cookie jar, stopping at the redirect to the callback.
// The script then finishes the token exchange, reconnects, lists the tools,
// calls whoami and prints one JSON line with what happened.
//
// Input (environment): MCP_URL, E2E_EMAIL, E2E_PASSWORD, E2E_REDIRECT_URL.
// Output: one JSON line on stdout; exit code 0 only when everything worked.

import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const steps = [];
const requests = [];

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
}

// Classifies every HTTP request the SDK makes, so the test can check the
// order of the flow: discovery, registration, token, MCP calls.
function classify(url, init, status) {
  const u = new URL(url);
  const method = (init?.method ?? 'GET').toUpperCase();
  if (u.pathname.startsWith('/.well-known/oauth-protected-resource')) return 'discovery:protected-resource';
  if (u.pathname.includes('/.well-known/oauth-authorization-server') || u.pathname.includes('/.well-known/openid-configuration')) {
    return status === 200 ? 'discovery:authorization-server' : `discovery:authorization-server:${status}`;
  }
  if (method === 'POST' && u.pathname.endsWith('/register')) return 'registration';
  if (method === 'POST' && u.pathname.endsWith('/token')) return 'token';
  if (u.href === mcpURL.href) {
    let rpc = '';
    try {
      const body = JSON.parse(init?.body ?? '');
      rpc = Array.isArray(body) ? body.map(m => m.method).join(',') : body.method ?? 'response';
    } catch {
      rpc = method;
    }
    return status >= 400 ? `mcp:${rpc}:${status}` : `mcp:${rpc}`;
  }
  return `other:${method} ${u.pathname}`;
}

// loggingFetch is the fetch the SDK uses for everything it sends.
async function loggingFetch(url, init) {
  const res = await fetch(url, init);
  const step = classify(String(url), init, res.status);
  requests.push({ method: init?.method ?? 'GET', url: String(url), status: res.status });
  if (steps[steps.length - 1] !== step) steps.push(step);
  return res;
}

// CookieJar keeps the cookies of one origin by name; enough for the
// platform's session and CSRF cookies, which share the tenant path.
class CookieJar {
  #cookies = new Map();
  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some(a => /^\s*max-age\s*=\s*(-\d+|0)\s*$/i.test(a)) ||
        attrs.some(a => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) < Date.now());
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

// decodeEntities undoes the HTML escaping of attribute values.
function decodeEntities(s) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return named[e.toLowerCase()] ?? m;
  });
}

function attributes(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([^\s=<>\/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

// scrapeForms returns every form of a page with its action and the fields a
// browser would submit. Buttons are noted, not submitted.
function scrapeForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const form = { action: attributes(m[1]).action ?? '', fields: new URLSearchParams(), hasPassword: false, hasDecision: false };
    for (const t of m[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const a = attributes(t[2]);
      const type = (a.type ?? (t[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
      if (a.name === 'decision') { form.hasDecision = true; continue; }
      if (type === 'password') { form.hasPassword = true; form.fields.set(a.name, ''); continue; }
      if (!a.name || ['submit', 'button', 'image', 'reset'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && !('checked' in a)) continue;
      form.fields.append(a.name, a.value ?? '');
    }
    forms.push(form);
  }
  return forms;
}

// signInAndConsent plays the user's browser from the authorization URL to the
// redirect to the callback, and returns that redirect's URL.
async function signInAndConsent(authorizationUrl, { email, password, redirectUrl }) {
  const jar = new CookieJar();
  let url = authorizationUrl.href;
  let init = { method: 'GET' };
  for (let hop = 0; hop < 16; hop++) {
    if (url.startsWith(redirectUrl)) {
      steps.push('callback');
      return new URL(url);
    }
    const headers = { ...(init.headers ?? {}) };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get('location');
      if (!location) throw new Error(`${res.status} from ${url} without Location`);
      url = new URL(location, url).href;
      init = { method: 'GET' };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) {
      throw new Error(`${init.method} ${url}: status ${res.status}: ${html.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
    const forms = scrapeForms(html);
    const consent = forms.find(f => f.hasDecision);
    const signin = forms.find(f => f.hasPassword);
    let form;
    if (consent) {
      form = consent;
      form.fields.set('decision', 'approve');
      steps.push('consent');
    } else if (signin) {
      form = signin;
      form.fields.set('email', email);
      form.fields.set('password', password);
      steps.push('signin');
    } else {
      throw new Error(`no sign-in or consent form on ${url}: ${html.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
    url = new URL(form.action || url, url).href;
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.fields.toString(),
    };
  }
  throw new Error('no redirect to the callback after 16 hops');
}

// InMemoryProvider implements the SDK's OAuthClientProvider for one run.
class InMemoryProvider {
  constructor({ redirectUrl, email, password }) {
    this._redirectUrl = redirectUrl;
    this._email = email;
    this._password = password;
    this._state = undefined;
    this.authorizationUrl = undefined;
    this.callback = undefined;
  }
  get redirectUrl() { return this._redirectUrl; }
  get clientMetadata() {
    return {
      client_name: 'mcp-obs e2e TypeScript client',
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this._state = randomBytes(16).toString('hex');
    return this._state;
  }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    this.authorizationUrl = authorizationUrl;
    const cb = await signInAndConsent(authorizationUrl, {
      email: this._email, password: this._password, redirectUrl: this._redirectUrl,
    });
    const err = cb.searchParams.get('error');
    if (err) throw new Error(`authorization failed: ${err}: ${cb.searchParams.get('error_description') ?? ''}`);
    if (cb.searchParams.get('state') !== this._state) {
      throw new Error(`state mismatch: sent ${this._state}, got ${cb.searchParams.get('state')}`);
    }
    this.callback = cb;
  }
}

const mcpURL = new URL(need('MCP_URL'));

async function main() {
  const provider = new InMemoryProvider({
    redirectUrl: need('E2E_REDIRECT_URL'),
    email: need('E2E_EMAIL'),
    password: need('E2E_PASSWORD'),
  });
  const newTransport = () => new StreamableHTTPClientTransport(mcpURL, { authProvider: provider, fetch: loggingFetch });
  const info = { name: 'mcp-obs-e2e-ts', version: '0.0.1' };

  // First attempt: 401 → discovery → registration → redirectToAuthorization.
  let client = new Client(info);
  const first = newTransport();
  try {
    await client.connect(first);
    throw new Error('connected without authorization: the MCP server did not ask for a token');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (!provider.callback) throw new Error('the SDK never sent the user to the authorization URL');
  await first.finishAuth(provider.callback.searchParams.get('code'));
  await client.close().catch(() => {});

  // Second attempt: with the token.
  client = new Client(info);
  await client.connect(newTransport());
  const tools = await client.listTools();
  const res = await client.callTool({ name: 'whoami', arguments: {} });
  if (res.isError) throw new Error(`whoami failed: ${JSON.stringify(res.content)}`);
  await client.close();

  const tokens = provider.tokens();
  process.stdout.write(JSON.stringify({
    ok: true,
    steps,
    client_id: provider.clientInformation()?.client_id,
    authorization: {
      endpoint: `${provider.authorizationUrl.origin}${provider.authorizationUrl.pathname}`,
      scope: provider.authorizationUrl.searchParams.get('scope'),
      resource: provider.authorizationUrl.searchParams.get('resource'),
      code_challenge_method: provider.authorizationUrl.searchParams.get('code_challenge_method'),
      iss: provider.callback.searchParams.get('iss'),
    },
    token: { token_type: tokens?.token_type, scope: tokens?.scope, has_refresh_token: Boolean(tokens?.refresh_token) },
    tools: tools.tools.map(t => t.name),
    whoami: res.structuredContent ?? null,
    requests,
  }) + '\n');
}

main().then(
  () => process.exit(0),
  err => {
    process.stderr.write(`tsclient: ${err?.stack ?? err}\n`);
    process.stdout.write(JSON.stringify({ ok: false, error: String(err?.message ?? err), steps, requests }) + '\n');
    process.exit(1);
  },
);
