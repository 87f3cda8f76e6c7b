// A third-party OTLP/HTTP sender for the mcp-obs end-to-end tests: the
// OpenTelemetry JS SDK's own trace exporter, configured only by the standard
// environment variables, as any application would be.
//
//   OTEL_EXPORTER_OTLP_ENDPOINT  the platform's base URL (the exporter adds /v1/traces)
//   OTEL_EXPORTER_OTLP_HEADERS   Authorization=<url-encoded value>
//   E2E_ENCODING                 "protobuf" (exporter-trace-otlp-proto) or "json" (exporter-trace-otlp-http)
//   E2E_RUN                      a word put in every span name, so the test can find this run's spans
//   E2E_FOREIGN_TENANT           a resource attribute naming another tenant, which must change nothing
//
// It records a small trace (a tools/call SERVER span with an INTERNAL child,
// and a failed tools/call), exports it through a BatchSpanProcessor, flushes,
// and prints one JSON line: {"ok", "encoding", "trace_id", "spans": [{"name",
// "span_id", "parent_span_id"}], "exports": [{"code", "error"}]}.
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JSONExporter } from '@opentelemetry/exporter-trace-otlp-http';

const encoding = process.env.E2E_ENCODING || 'protobuf';
const run = process.env.E2E_RUN || 'run';

// The exporter, wrapped to see each export's result (the SDK otherwise
// reports failures only to its diagnostic logger).
const inner = encoding === 'json' ? new JSONExporter() : new ProtoExporter();
const exports = [];
const exporter = {
  export(spans, done) {
    inner.export(spans, (result) => {
      exports.push({ code: result.code, error: result.error ? String(result.error.message || result.error) : '' });
      done(result);
    });
  },
  shutdown() { return inner.shutdown(); },
  forceFlush() { return inner.forceFlush ? inner.forceFlush() : Promise.resolve(); },
};

const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({
    'service.name': 'e2e-js-sender',
    'mcp_obs.server.slug': process.env.E2E_FOREIGN_TENANT || '',
    'mcp_obs.server.id': process.env.E2E_FOREIGN_TENANT || '',
  }),
  spanProcessors: [new BatchSpanProcessor(exporter)],
});
const tracer = provider.getTracer('mcp-obs-e2e-js-sender', '0.0.0');

const recorded = [];
function note(span, name) {
  const sc = span.spanContext();
  const parent = span.parentSpanContext ? span.parentSpanContext.spanId : (span.parentSpanId || '');
  recorded.push({ name, span_id: sc.spanId, trace_id: sc.traceId, parent_span_id: parent || '' });
}

let out;
try {
  const toolName = `js_tool_${run}`;
  const root = tracer.startSpan(`tools/call ${toolName}`, {
    kind: SpanKind.SERVER,
    attributes: {
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': toolName,
      'gen_ai.operation.name': 'execute_tool',
      'user.id': `js-user-${run}`,
      'oauth.client.id': `js-client-${run}`,
      'mcp.session.id': `js-session-${run}`,
      'jsonrpc.request.id': '42',
      'network.transport': 'tcp',
    },
  });
  note(root, root.name ?? `tools/call ${toolName}`);
  const child = tracer.startSpan(`query ${run}`, { kind: SpanKind.INTERNAL, attributes: { 'db.system.name': 'sqlite' } },
    trace.setSpan(context.active(), root));
  note(child, `query ${run}`);
  child.end();
  root.end();

  const failName = `js_fail_${run}`;
  const failed = tracer.startSpan(`tools/call ${failName}`, {
    kind: SpanKind.SERVER,
    attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': failName, 'error.type': 'tool_error', 'user.id': `js-user-${run}` },
  });
  failed.setStatus({ code: SpanStatusCode.ERROR, message: 'it failed' });
  note(failed, `tools/call ${failName}`);
  failed.end();

  await provider.forceFlush();
  await provider.shutdown();
  const ok = exports.length > 0 && exports.every((e) => e.code === 0);
  out = { ok, encoding, trace_id: recorded[0].trace_id, spans: recorded, exports };
} catch (err) {
  out = { ok: false, encoding, error: String(err && err.stack || err), spans: recorded, exports };
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(out.ok ? 0 : 1);
