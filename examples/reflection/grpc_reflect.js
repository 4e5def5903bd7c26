#!/usr/bin/env node
// A generic gRPC client driven by server reflection (grpc.reflection.v1), in the spirit
// of grpcurl: it knows nothing about forkd and reads no .proto file. It asks the server
// for its services and their file descriptors, builds the message types from those at
// run time (protobufjs, via the npm package grpc-js-reflection-client), and calls a
// unary method with a request given as JSON (proto3 JSON mapping: bytes in base64).
//
//   node grpc_reflect.js --socket PATH list
//   node grpc_reflect.js --socket PATH describe forkd.v1.Sandbox
//   node grpc_reflect.js --socket PATH call forkd.v1.Sandbox/Exec '{"argv":["echo","hi"]}'
//
// `call` prints the response as JSON on stdout. Exit codes: 0 ok, 1 RPC or reflection
// error, 2 usage error.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const { GrpcReflection } = require('grpc-js-reflection-client');

const USAGE = `usage: node grpc_reflect.js (--socket PATH | --target HOST:PORT) COMMAND
  list                          the services the server offers
  describe SERVICE              the methods of SERVICE with their types
  call SERVICE/METHOD [JSON]    call a unary method (request as JSON, default {})`;

function usage(msg) {
  if (msg) console.error(msg);
  console.error(USAGE);
  process.exit(2);
}

function parseArgs(argv) {
  let target = null;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket' && i + 1 < argv.length) target = `unix:${path.resolve(argv[++i])}`;
    else if (a === '--target' && i + 1 < argv.length) target = argv[++i];
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) usage(`unknown option '${a}'`);
    else rest.push(a);
  }
  if (!target) usage('no --socket or --target');
  if (rest.length === 0) usage('no command');
  return { target, command: rest[0], args: rest.slice(1) };
}

// The service's descriptor, with every file it depends on, fetched over reflection.
async function lookupService(reflection, service) {
  const root = (await reflection.getDescriptorBySymbol(service)).getProtobufJsRoot();
  const svc = root.lookupService(service);
  svc.resolveAll();
  return svc;
}

// fromObject drops unknown keys silently: name them instead, as a typo is likely.
function checkFields(type, obj, where) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return;
  if (type.fullName.startsWith('.google.protobuf.')) return;
  for (const [key, value] of Object.entries(obj)) {
    const field = type.fields[key] || Object.values(type.fields).find((f) => f.jsonName === key);
    if (!field) throw new Error(`${where}: no field '${key}'`);
    field.resolve();
    if (field.resolvedType && field.resolvedType.fields) {
      for (const v of Array.isArray(value) ? value : [value]) checkFields(field.resolvedType, v, `${where}.${key}`);
    }
  }
}

const JSON_OPTIONS = { bytes: String, enums: String, longs: String, oneofs: true };

async function main() {
  const { target, command, args } = parseArgs(process.argv.slice(2));
  const creds = grpc.credentials.createInsecure();
  const reflection = new GrpcReflection(target, creds, {}, 'v1');
  const deadline = () => ({ deadline: new Date(Date.now() + 30000) });

  if (command === 'list') {
    if (args.length) usage('list takes no argument');
    for (const s of (await reflection.listServices('*', deadline())).sort()) console.log(s);
    return 0;
  }
  if (command === 'describe') {
    if (args.length !== 1) usage('describe takes one SERVICE');
    const svc = await lookupService(reflection, args[0]);
    console.log(`service ${args[0]} {`);
    for (const m of Object.values(svc.methods)) {
      const stream = (on) => (on ? 'stream ' : '');
      console.log(
        `  rpc ${m.name}(${stream(m.requestStream)}${m.resolvedRequestType.fullName.slice(1)})` +
          ` returns (${stream(m.responseStream)}${m.resolvedResponseType.fullName.slice(1)});`,
      );
    }
    console.log('}');
    return 0;
  }
  if (command === 'call') {
    if (args.length < 1 || args.length > 2) usage('call takes SERVICE/METHOD [JSON]');
    const slash = args[0].lastIndexOf('/');
    if (slash <= 0) usage(`'${args[0]}' is not SERVICE/METHOD`);
    const [service, methodName] = [args[0].slice(0, slash), args[0].slice(slash + 1)];
    let body;
    try {
      body = JSON.parse(args[1] || '{}');
    } catch (e) {
      usage(`request is not JSON: ${e.message}`);
    }
    const svc = await lookupService(reflection, service);
    const method = svc.methods[methodName];
    if (!method) throw new Error(`${service} has no method ${methodName}`);
    if (method.requestStream || method.responseStream) throw new Error(`${args[0]} is a streaming method`);
    const reqType = method.resolvedRequestType;
    const resType = method.resolvedResponseType;
    checkFields(reqType, body, reqType.fullName.slice(1));
    const request = reqType.fromObject(body);
    const client = new grpc.Client(target, creds);
    const response = await new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        `/${service}/${methodName}`,
        (msg) => Buffer.from(reqType.encode(msg).finish()),
        (buf) => resType.decode(buf),
        request,
        new grpc.Metadata(),
        deadline(),
        (e, res) => (e ? reject(e) : resolve(res)),
      ),
    );
    client.close();
    console.log(JSON.stringify(resType.toObject(response, JSON_OPTIONS), null, 2));
    return 0;
  }
  usage(`unknown command '${command}'`);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    const detail = e.details !== undefined ? `${grpc.status[e.code] || e.code}: ${e.details}` : e.message || e;
    console.error(`grpc_reflect: ${detail}`);
    process.exit(1);
  },
);
