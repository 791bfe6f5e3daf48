// Drives a gateway's Anthropic Messages API and OpenAI Responses API through the official
// SDKs (@anthropic-ai/sdk, openai) the way a coding agent's SDK would, and checks what the
// SDKs make of the answers. Prints one line per check ("ok NAME: ..." or "FAIL NAME: ...")
// and exits 1 at the first failure, 0 when all selected checks pass.
//
//   node agent_sdks.mjs BASE_URL KEY EXPECTED_TEXT [CHECK,CHECK,...]
//
// BASE_URL is the gateway root (http://127.0.0.1:PORT): the Anthropic client gets it as is
// (it appends /v1/messages), the OpenAI client gets BASE_URL + "/v1". Both have
// maxRetries 0. EXPECTED_TEXT is the backend's deterministic answer (signalbox-mock:
// "tok1 tok2 ... tok16"); the tool checks send `x-mock-tool-call: get_weather`, which makes
// the mock answer with a call of that tool. Without the 4th argument the default checks
// run, in this order:
//   messages_plain    messages.create: the text equals EXPECTED_TEXT
//   messages_stream   messages.stream: finalMessage() text equals EXPECTED_TEXT, usage present
//   messages_tool     a tool_use block named get_weather
//   messages_error    no `messages` -> Anthropic.BadRequestError, status 400
//   responses_plain   responses.create: output_text equals EXPECTED_TEXT
//   responses_stream  responses.stream: the output_text deltas join to EXPECTED_TEXT, and
//                     response.completed arrives with usage
//   responses_tool    a function_call output item named get_weather
//   responses_error   `input` a number -> OpenAI.BadRequestError, status 400
// Opt-in (only when named): messages_count_tokens (messages.countTokens -> input_tokens > 0).
// Env: AGENT_SDKS_MODEL (default "auto") is the model every request names.
// Prints "SKIPPED: <why>" and exits 0 when the SDKs are not installed (npm install here).

const DEFAULT_CHECKS = [
  'messages_plain', 'messages_stream', 'messages_tool', 'messages_error',
  'responses_plain', 'responses_stream', 'responses_tool', 'responses_error',
];
const OPTIONAL_CHECKS = ['messages_count_tokens'];

const [base, key, expected, only] = process.argv.slice(2);
if (!base || key === undefined || expected === undefined) {
  console.error('usage: node agent_sdks.mjs BASE_URL KEY EXPECTED_TEXT [CHECK,CHECK,...]');
  process.exit(2);
}
const selected = only ? only.split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_CHECKS;
for (const name of selected) {
  if (!DEFAULT_CHECKS.includes(name) && !OPTIONAL_CHECKS.includes(name)) {
    console.error(`unknown check ${name}; known: ${[...DEFAULT_CHECKS, ...OPTIONAL_CHECKS].join(',')}`);
    process.exit(2);
  }
}

let Anthropic;
let OpenAI;
try {
  ({ default: Anthropic } = await import('@anthropic-ai/sdk'));
  ({ default: OpenAI } = await import('openai'));
} catch (e) {
  console.log(`SKIPPED: SDKs not installed in tests/clients (npm install): ${e.message.split('\n')[0]}`);
  process.exit(0);
}

const root = base.replace(/\/+$/, '');
const model = process.env.AGENT_SDKS_MODEL || 'auto';
const anthropic = new Anthropic({ baseURL: root, apiKey: key, maxRetries: 0, timeout: 60_000 });
const openai = new OpenAI({ baseURL: `${root}/v1`, apiKey: key, maxRetries: 0, timeout: 60_000 });
const toolHeader = { headers: { 'x-mock-tool-call': 'get_weather' } };
const weatherSchema = {
  type: 'object',
  properties: { location: { type: 'string', description: 'City name' } },
  required: ['location'],
};
const ask = [{ role: 'user', content: 'Reply with the single word hi' }];

class CheckFailed extends Error {}
function expect(cond, what) {
  if (!cond) throw new CheckFailed(what);
}
const show = (v) => JSON.stringify(v)?.slice(0, 300);
const textOf = (message) =>
  (message.content ?? []).filter((b) => b.type === 'text').map((b) => b.text).join('');

// Runs fn, which must throw ErrorClass with the given status; returns a description.
async function expectError(fn, ErrorClass, className, status) {
  let err;
  try {
    const got = await fn();
    throw new CheckFailed(`expected ${className} ${status}, got a success: ${show(got)}`);
  } catch (e) {
    if (e instanceof CheckFailed) throw e;
    err = e;
  }
  expect(err instanceof ErrorClass,
    `expected ${className}, got ${err?.constructor?.name}: ${err?.message}`);
  expect(err.status === status, `expected status ${status}, got ${err.status}`);
  return `${err.constructor.name} ${err.status}: ${err.message}`;
}

const checks = {
  async messages_plain() {
    const msg = await anthropic.messages.create({ model, max_tokens: 256, messages: ask });
    expect(msg.type === 'message', `type ${show(msg.type)}`);
    expect(textOf(msg) === expected, `text ${show(textOf(msg))} != ${show(expected)}`);
    return `${msg.id} stop_reason=${msg.stop_reason} text=${show(textOf(msg))}`;
  },

  async messages_stream() {
    const stream = anthropic.messages.stream({ model, max_tokens: 256, messages: ask });
    let deltas = '';
    stream.on('text', (t) => { deltas += t; });
    const msg = await stream.finalMessage();
    expect(textOf(msg) === expected, `final text ${show(textOf(msg))} != ${show(expected)}`);
    expect(deltas === expected, `text deltas ${show(deltas)} != ${show(expected)}`);
    const u = msg.usage;
    expect(u && Number.isInteger(u.input_tokens) && Number.isInteger(u.output_tokens) && u.output_tokens > 0,
      `usage ${show(u)}`);
    return `${msg.id} stop_reason=${msg.stop_reason} usage=${show(u)}`;
  },

  async messages_tool() {
    const msg = await anthropic.messages.create({
      model, max_tokens: 256,
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [{ name: 'get_weather', description: 'Current weather for a city', input_schema: weatherSchema }],
    }, toolHeader);
    const use = (msg.content ?? []).find((b) => b.type === 'tool_use');
    expect(use, `no tool_use block in ${show(msg.content)}`);
    expect(use.name === 'get_weather', `tool_use named ${show(use.name)}`);
    expect(use.input && typeof use.input === 'object', `tool_use input ${show(use.input)}`);
    return `tool_use ${use.name} ${show(use.input)} stop_reason=${msg.stop_reason}`;
  },

  async messages_error() {
    return expectError(() => anthropic.messages.create({ model, max_tokens: 16 }),
      Anthropic.BadRequestError, 'Anthropic.BadRequestError', 400);
  },

  async messages_count_tokens() {
    const r = await anthropic.messages.countTokens({ model, messages: ask });
    expect(Number.isInteger(r.input_tokens) && r.input_tokens > 0, `input_tokens ${show(r)}`);
    return `input_tokens=${r.input_tokens}`;
  },

  async responses_plain() {
    const r = await openai.responses.create({ model, input: 'Reply with the single word hi' });
    expect(r.object === 'response', `object ${show(r.object)}`);
    expect(r.output_text === expected, `output_text ${show(r.output_text)} != ${show(expected)}`);
    return `${r.id} status=${r.status} output_text=${show(r.output_text)}`;
  },

  async responses_stream() {
    const stream = openai.responses.stream({ model, input: 'Reply with the single word hi' });
    let deltas = '';
    let completed = null;
    const types = new Set();
    for await (const event of stream) {
      types.add(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    const final = await stream.finalResponse();
    expect(deltas === expected, `output_text deltas ${show(deltas)} != ${show(expected)}`);
    expect(completed, `no response.completed event (saw ${[...types].join(' ')})`);
    expect(completed.status === 'completed', `completed.status ${show(completed.status)}`);
    const u = completed.usage;
    expect(u && Number.isInteger(u.input_tokens) && Number.isInteger(u.output_tokens) && u.output_tokens > 0,
      `usage ${show(u)}`);
    expect(final.output_text === expected, `finalResponse output_text ${show(final.output_text)}`);
    return `${completed.id} events=${types.size} usage=${show(u)}`;
  },

  async responses_tool() {
    const r = await openai.responses.create({
      model,
      input: 'What is the weather in Paris?',
      tools: [{ type: 'function', name: 'get_weather', description: 'Current weather for a city',
        parameters: weatherSchema, strict: false }],
    }, toolHeader);
    const call = (r.output ?? []).find((o) => o.type === 'function_call');
    expect(call, `no function_call output item in ${show(r.output)}`);
    expect(call.name === 'get_weather', `function_call named ${show(call.name)}`);
    expect(typeof call.arguments === 'string' && typeof call.call_id === 'string',
      `function_call arguments/call_id ${show(call)}`);
    JSON.parse(call.arguments);
    return `function_call ${call.name} ${call.arguments}`;
  },

  async responses_error() {
    return expectError(() => openai.responses.create({ model, input: 42 }),
      OpenAI.BadRequestError, 'OpenAI.BadRequestError', 400);
  },
};

for (const name of selected) {
  try {
    const detail = await checks[name]();
    console.log(`ok ${name}: ${detail}`);
  } catch (e) {
    const why = e instanceof CheckFailed ? e.message : `${e?.constructor?.name}: ${e?.message}`;
    console.log(`FAIL ${name}: ${String(why).replace(/\s+/g, ' ').slice(0, 600)}`);
    process.exit(1);
  }
}
console.log(`all ${selected.length} checks ok`);
