// A stand-in gateway for the client helpers: it answers the Anthropic Messages API
// (/v1/messages, /v1/messages/count_tokens) and the OpenAI Responses API (/v1/responses)
// the way tools/mock answers behind signalbox (deterministic "tok1 tok2 ... tokN", a
// tool call when the request carries `x-mock-tool-call: NAME`), and records every request
// it sees. It exists to check run-agent and agent_sdks.mjs without building the gateway,
// and to capture what the coding agents really send.
//
//   node fake_gateway.mjs [--port N] [--log FILE.jsonl] [--bodies DIR] [--tokens N]
//
// Prints "listening PORT" on stdout once bound (port 0 = any free port). --log appends
// one JSON line per request (method, url, headers, body size, summary); --bodies DIR
// writes each raw request body as DIR/NNN-<path>.json. Stops on SIGTERM/SIGINT.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '0'));
const logFile = opt('--log', '');
const bodiesDir = opt('--bodies', '');
const defaultTokens = Number(opt('--tokens', '16'));
if (bodiesDir) fs.mkdirSync(bodiesDir, { recursive: true });

let seq = 0;
let idSeq = 0;
const newId = (prefix) => `${prefix}_${Date.now().toString(36)}${(++idSeq).toString(36)}`;
const answerText = (n) => Array.from({ length: n }, (_, i) => `tok${i + 1}`).join(' ');

function record(req, raw, parsed) {
  const n = ++seq;
  if (bodiesDir && raw.length) {
    const name = `${String(n).padStart(3, '0')}-${req.url.split('?')[0].replace(/[^A-Za-z0-9]+/g, '_')}.json`;
    fs.writeFileSync(path.join(bodiesDir, name), raw);
  }
  if (!logFile) return;
  const entry = {
    seq: n,
    time: new Date().toISOString(),
    method: req.method,
    url: req.url,
    headers: req.headers,
    body_bytes: raw.length,
  };
  if (parsed && typeof parsed === 'object') {
    entry.model = parsed.model;
    entry.stream = parsed.stream;
    entry.keys = Object.keys(parsed);
    if (Array.isArray(parsed.tools)) entry.tools = parsed.tools.map((t) => t.name ?? t.type);
    if (Array.isArray(parsed.messages)) entry.messages = parsed.messages.length;
    if (Array.isArray(parsed.input)) entry.input_items = parsed.input.length;
    for (const k of ['store', 'previous_response_id', 'include', 'max_tokens', 'max_output_tokens',
      'thinking', 'reasoning', 'tool_choice', 'parallel_tool_calls', 'metadata', 'prompt_cache_key',
      'text', 'service_tier', 'temperature', 'context_management', 'output_config']) {
      if (k in parsed) entry[k] = parsed[k];
    }
  }
  fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
}

function sendJson(res, status, obj, extra = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sse(res, extra = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...extra });
  return (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const anthropicError = (res, status, type, message) =>
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: newId('req') },
    { 'request-id': newId('req') });
const openaiError = (res, status, message, param = null, code = null, type = 'invalid_request_error') =>
  sendJson(res, status, { error: { message, type, param, code } });

function tokensOf(req) {
  const n = Number(req.headers['x-mock-tokens']);
  return Number.isInteger(n) && n > 0 ? n : defaultTokens;
}

function countInput(body) {
  return Math.max(1, Math.ceil(JSON.stringify(body).length / 4));
}

// ---------------------------------------------------------------- Anthropic Messages
function messages(req, res, body) {
  if (!body || typeof body !== 'object') return anthropicError(res, 400, 'invalid_request_error', 'body: not a JSON object');
  if (!Array.isArray(body.messages)) return anthropicError(res, 400, 'invalid_request_error', 'messages: Field required');
  if (typeof body.model !== 'string') return anthropicError(res, 400, 'invalid_request_error', 'model: Field required');
  if (typeof body.max_tokens !== 'number') return anthropicError(res, 400, 'invalid_request_error', 'max_tokens: Field required');
  const tool = req.headers['x-mock-tool-call'];
  const n = tokensOf(req);
  const words = answerText(n).split(' ');
  const inputTokens = countInput(body);
  const id = newId('msg');
  const usage = { input_tokens: inputTokens, output_tokens: tool ? 8 : n,
    cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const toolInput = { location: 'Paris' };
  if (!body.stream) {
    const content = tool
      ? [{ type: 'tool_use', id: newId('toolu'), name: tool, input: toolInput }]
      : [{ type: 'text', text: words.join(' ') }];
    return sendJson(res, 200, { id, type: 'message', role: 'assistant', model: body.model, content,
      stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null, usage });
  }
  const send = sse(res, { 'request-id': newId('req') });
  send('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant',
    model: body.model, content: [], stop_reason: null, stop_sequence: null,
    usage: { ...usage, output_tokens: 1 } } });
  if (tool) {
    send('content_block_start', { type: 'content_block_start', index: 0,
      content_block: { type: 'tool_use', id: newId('toolu'), name: tool, input: {} } });
    send('ping', { type: 'ping' });
    send('content_block_delta', { type: 'content_block_delta', index: 0,
      delta: { type: 'input_json_delta', partial_json: JSON.stringify(toolInput) } });
  } else {
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    send('ping', { type: 'ping' });
    words.forEach((w, i) => send('content_block_delta', { type: 'content_block_delta', index: 0,
      delta: { type: 'text_delta', text: i === 0 ? w : ' ' + w } }));
  }
  send('content_block_stop', { type: 'content_block_stop', index: 0 });
  send('message_delta', { type: 'message_delta', delta: { stop_reason: tool ? 'tool_use' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: usage.output_tokens } });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

function countTokens(req, res, body) {
  if (!body || !Array.isArray(body.messages)) return anthropicError(res, 400, 'invalid_request_error', 'messages: Field required');
  sendJson(res, 200, { input_tokens: countInput(body) });
}

// ---------------------------------------------------------------- OpenAI Responses
function responses(req, res, body) {
  if (!body || typeof body !== 'object') return openaiError(res, 400, 'body: not a JSON object');
  if (!(typeof body.input === 'string' || Array.isArray(body.input))) {
    return openaiError(res, 400, "Invalid type for 'input': expected a string or an array of input items.", 'input', 'invalid_type');
  }
  if (typeof body.model !== 'string') return openaiError(res, 400, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  const tool = req.headers['x-mock-tool-call'];
  const n = tokensOf(req);
  const text = answerText(n);
  const words = text.split(' ');
  const respId = newId('resp');
  const itemId = newId(tool ? 'fc' : 'msg');
  const inputTokens = countInput(body);
  const usage = { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 },
    output_tokens: tool ? 8 : n, output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + (tool ? 8 : n) };
  const created = Math.floor(Date.now() / 1000);
  const base = { id: respId, object: 'response', created_at: created, model: body.model,
    error: null, incomplete_details: null, instructions: body.instructions ?? null,
    parallel_tool_calls: body.parallel_tool_calls ?? true, tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [], store: body.store ?? true, previous_response_id: body.previous_response_id ?? null,
    metadata: body.metadata ?? {}, text: { format: { type: 'text' } } };
  const args = JSON.stringify({ location: 'Paris' });
  const callId = newId('call');
  const doneItem = tool
    ? { id: itemId, type: 'function_call', status: 'completed', call_id: callId, name: tool, arguments: args }
    : { id: itemId, type: 'message', status: 'completed', role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [] }] };
  const final = { ...base, status: 'completed', output: [doneItem], usage };
  if (!body.stream) return sendJson(res, 200, final);

  const send = sse(res);
  let sn = 0;
  const ev = (type, data) => send(type, { type, sequence_number: sn++, ...data });
  ev('response.created', { response: { ...base, status: 'in_progress', output: [], usage: null } });
  ev('response.in_progress', { response: { ...base, status: 'in_progress', output: [], usage: null } });
  if (tool) {
    ev('response.output_item.added', { output_index: 0,
      item: { ...doneItem, status: 'in_progress', arguments: '' } });
    ev('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: args });
    ev('response.function_call_arguments.done', { item_id: itemId, output_index: 0, arguments: args });
  } else {
    ev('response.output_item.added', { output_index: 0,
      item: { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    ev('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] } });
    words.forEach((w, i) => ev('response.output_text.delta', { item_id: itemId, output_index: 0,
      content_index: 0, delta: i === 0 ? w : ' ' + w, logprobs: [] }));
    ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] });
    ev('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0,
      part: { type: 'output_text', text, annotations: [] } });
  }
  ev('response.output_item.done', { output_index: 0, item: doneItem });
  ev('response.completed', { response: final });
  res.end();
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    let body;
    let bad = false;
    if (raw.length) {
      try { body = JSON.parse(raw.toString('utf8')); } catch { bad = true; }
    }
    record(req, raw, body);
    const p = new URL(req.url, 'http://x').pathname;
    const anthropicPath = p.startsWith('/v1/messages');
    if (bad) {
      return anthropicPath ? anthropicError(res, 400, 'invalid_request_error', 'body: invalid JSON')
        : openaiError(res, 400, 'We could not parse the JSON body of your request.');
    }
    if (req.method === 'POST' && p === '/v1/messages') return messages(req, res, body);
    if (req.method === 'POST' && p === '/v1/messages/count_tokens') return countTokens(req, res, body);
    if (req.method === 'POST' && p === '/v1/responses') return responses(req, res, body);
    if (req.method === 'HEAD' || (req.method === 'GET' && p === '/')) { res.writeHead(200); return res.end(); }
    if (anthropicPath) return anthropicError(res, 404, 'not_found_error', `${req.method} ${p}: not found`);
    return openaiError(res, 404, `${req.method} ${p}: not found`, null, null, 'not_found_error');
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
