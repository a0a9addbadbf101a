// eventnotify's gRPC contracts from Node.js: @grpc/proto-loader reads our
// .proto files as they are (no generated code), @grpc/grpc-js calls a running
// server. Run by tests/integration/test_node_client.py, which starts the
// server, mints an API key and seeds one delivery log entry, then passes:
//   EVENTNOTIFY_ADDRESS   host:port of the server
//   EVENTNOTIFY_API_KEY   a WRITE key of the org
//   SEED_EVENT_ID, SEED_WEB_HOOK_ID, SEED_REF_ID, SEED_ORG_ID   the seeded entry
//   EVENTNOTIFY_PROTO_INCLUDE   where google/api/annotations.proto lives (the
//                               HTTP rules' import; googleapis-common-protos
//                               ships it), several joined by path.delimiter
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const here = path.dirname(fileURLToPath(import.meta.url));
const PROTOS = path.resolve(here, "../../protos");
const EXTRA = (process.env.EVENTNOTIFY_PROTO_INCLUDE || "").split(path.delimiter).filter(Boolean);

function env(name) {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
}

// The options the README recommends: camelCase field names (keepCase false),
// int64 as strings (JavaScript numbers lose precision past 2^53), enums as
// their names, defaults filled in, well-known types in their JSON form.
const definition = protoLoader.loadSync(
  ["eventnotify/v1/webhook.proto", "eventnotify/v1/catalog.proto", "eventnotify/v1/log.proto"],
  { includeDirs: [PROTOS, ...EXTRA], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true, json: true },
);
const v1 = grpc.loadPackageDefinition(definition).eventnotify.v1;

const address = env("EVENTNOTIFY_ADDRESS");
const credentials = grpc.credentials.createInsecure();
const webhooks = new v1.WebhookService(address, credentials);
const catalog = new v1.EventCatalogService(address, credentials);
const logs = new v1.EventLogService(address, credentials);

function auth(key = env("EVENTNOTIFY_API_KEY")) {
  const md = new grpc.Metadata();
  if (key) md.set("authorization", `Bearer ${key}`);
  return md;
}

// A unary call as a promise.
function call(client, method, request, metadata = auth()) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + 10_000 }, (err, reply) =>
      err ? reject(err) : resolve(reply),
    );
  });
}

test("creates a webhook and reads it back", async () => {
  const created = await call(webhooks, "CreateWebhook", {
    webhook: {
      name: "node-client-hook",
      eventNames: ["transactionAdded", "pointsRedeemed"],
      webHookUrl: "https://example.com/node",
      webHookType: "HTTP",
      methodType: "POST",
      webHookHeaders: { "x-from": "node" },
      maxAllowedConnections: 5,
      slaInSeconds: 60,
    },
  });
  assert.match(created.signingSecret, /^whsec_/);
  const hook = created.webhook;
  assert.equal(hook.name, "node-client-hook");
  assert.deepEqual(hook.eventNames, ["transactionAdded", "pointsRedeemed"]);
  assert.equal(hook.webHookType, "HTTP");
  assert.equal(hook.maxAllowedConnections, 5);
  assert.equal(hook.orgId, env("SEED_ORG_ID")); // int64 as a string
  assert.ok(hook.consumerGroupId);

  const got = await call(webhooks, "GetWebhook", { webHookId: hook.webHookId });
  assert.equal(got.webHookUrl, "https://example.com/node");
  assert.deepEqual(got.webHookHeaders, { "x-from": "node" });
});

test("a field violation comes back as INVALID_ARGUMENT", async () => {
  await assert.rejects(
    call(webhooks, "CreateWebhook", { webhook: { name: "bad", eventNames: [], webHookUrl: "ftp://x" } }),
    (err) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /event/);
      return true;
    },
  );
});

test("lists the event catalogue", async () => {
  const reply = await call(catalog, "ListEventTypes", { activeOnly: true });
  const names = reply.eventTypes.map((e) => e.eventName);
  assert.ok(names.includes("transactionAdded"), names.join(","));
  assert.ok(reply.eventTypes.every((e) => e.active));
  const one = await call(catalog, "GetEventType", { eventName: "transactionAdded" });
  assert.ok(one.standard);
  // google.protobuf.Struct arrives as its JSON-like message form.
  assert.equal(one.schema.fields.type.stringValue, "object");
});

test("reads a delivery log", async () => {
  const entry = await call(logs, "GetEventLog", { eventId: env("SEED_EVENT_ID") });
  assert.equal(entry.eventId, env("SEED_EVENT_ID"));
  assert.equal(entry.webHookId, env("SEED_WEB_HOOK_ID"));
  assert.equal(entry.refId, env("SEED_REF_ID"));
  assert.equal(entry.orgId, env("SEED_ORG_ID"));
  assert.equal(entry.status, "DELIVERED");
  assert.equal(entry.eventName, "transactionAdded");
  assert.equal(entry.attempts.length, 1);
  assert.equal(entry.attempts[0].httpStatus, 200);
  assert.equal(entry.consumerResponse.webhookHttpStatus, 200);

  const byRef = await call(logs, "ListEventLogsByRefId", { refId: env("SEED_REF_ID") });
  assert.deepEqual(byRef.entries.map((e) => e.eventId), [env("SEED_EVENT_ID")]);
});

test("no API key is UNAUTHENTICATED", async () => {
  await assert.rejects(call(catalog, "ListEventTypes", {}, auth("")), { code: grpc.status.UNAUTHENTICATED });
});

test.after(() => {
  for (const client of [webhooks, catalog, logs]) client.close();
});
