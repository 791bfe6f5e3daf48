// Sends one chat completion through the official `openai` SDK and prints what the SDK
// reports as one JSON line: {ok, name, status, message, attempts}. Driven by
// tests/integration/sdk_refusal_test.cc.
//
// usage: node openai_refusal.mjs BASE_URL API_KEY CONTENT_BYTES MAX_RETRIES|default
import OpenAI from 'openai';

const [baseURL, apiKey, bytes, retries] = process.argv.slice(2);
let attempts = 0;
const options = {
  baseURL,
  apiKey,
  timeout: 60_000,
  // Counts the uploads: a refusal the SDK cannot read is retried (body sent again).
  fetch: (url, init) => {
    attempts += 1;
    return fetch(url, init);
  },
};
if (retries !== 'default') options.maxRetries = Number(retries);
const client = new OpenAI(options);

const out = { ok: false, name: null, status: null, message: null, attempts: 0 };
try {
  await client.chat.completions.create({
    model: 'auto',
    messages: [{ role: 'user', content: 'x'.repeat(Number(bytes)) }],
  });
  out.ok = true;
} catch (e) {
  out.name = e?.constructor?.name ?? String(e);
  out.status = e?.status ?? null;
  out.message = e?.message ?? String(e);
  out.isApiError = e instanceof OpenAI.APIError;
  out.isConnectionError = e instanceof OpenAI.APIConnectionError;
}
out.attempts = attempts;
console.log(JSON.stringify(out));
