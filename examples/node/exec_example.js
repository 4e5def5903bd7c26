#!/usr/bin/env node
// A small client of forkd's Sandbox.Exec and Sandbox.ExecPipeline with @grpc/grpc-js.
// The repo's .proto files are loaded at run time by @grpc/proto-loader (which ships
// google/protobuf/*.proto itself), so nothing is generated.
//
//   node exec_example.js --socket /run/forkd/forkd.sock
//
// Exits 0 when every check passed, 1 otherwise, 2 on a usage error.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto', 'src', 'main', 'proto');

function parseArgs(argv) {
  let socket = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--socket' && i + 1 < argv.length) socket = argv[++i];
    else if (argv[i].startsWith('--socket=')) socket = argv[i].slice('--socket='.length);
    else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('usage: node exec_example.js --socket PATH');
      process.exit(0);
    } else {
      console.error(`unknown argument '${argv[i]}'\nusage: node exec_example.js --socket PATH`);
      process.exit(2);
    }
  }
  if (!socket) {
    console.error('usage: node exec_example.js --socket PATH');
    process.exit(2);
  }
  return path.resolve(socket);
}

function loadSandbox() {
  const def = protoLoader.loadSync('forkd/v1/sandbox.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true, // field names as in the .proto: exit_code, not exitCode
    longs: String,
    enums: String, // status as 'STATUS_EXITED'
    defaults: true, // unset fields as their defaults (exit_code 0, empty stdout)
    oneofs: true,
  });
  return grpc.loadPackageDefinition(def).forkd.v1.Sandbox;
}

function exec(client, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 30000);
    client.Exec(request, { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function main() {
  const socket = parseArgs(process.argv.slice(2));
  const Sandbox = loadSandbox();
  const client = new Sandbox(`unix:${socket}`, grpc.credentials.createInsecure());
  let failures = 0;

  async function check(name, request, want) {
    let r;
    try {
      r = await exec(client, request);
    } catch (e) {
      console.log(`FAIL ${name.padEnd(9)} RPC error ${grpc.status[e.code] || e.code}: ${e.details || e.message}`);
      failures++;
      return;
    }
    const stdout = r.stdout.toString();
    const stderr = r.stderr.toString();
    const problems = [];
    if (r.status !== want.status) problems.push(`status ${r.status}, expected ${want.status}`);
    if (want.exit_code !== undefined && r.exit_code !== want.exit_code)
      problems.push(`exit code ${r.exit_code}, expected ${want.exit_code}`);
    if (want.stdout !== undefined && stdout !== want.stdout)
      problems.push(`stdout ${JSON.stringify(stdout)}, expected ${JSON.stringify(want.stdout)}`);
    if (want.message && !r.message) problems.push('no message');
    console.log(
      `${problems.length ? 'FAIL' : 'ok  '} ${name.padEnd(9)} ${JSON.stringify(request.argv)} -> ` +
        `${r.status} exit_code=${r.exit_code} stdout=${JSON.stringify(stdout)} ` +
        `stderr=${JSON.stringify(stderr)}${r.message ? ` message=${JSON.stringify(r.message)}` : ''}`,
    );
    if (problems.length) {
      failures++;
      console.log(`     ${problems.join('; ')}`);
    }
  }

  await check('echo', { argv: ['echo', 'hi'] }, { status: 'STATUS_EXITED', exit_code: 0, stdout: 'hi\n' });
  await check(
    'stdin',
    { argv: ['cat'], stdin: Buffer.from('hello from stdin\n') },
    { status: 'STATUS_EXITED', exit_code: 0, stdout: 'hello from stdin\n' },
  );
  await check('exit-code', { argv: ['sh', '-c', 'echo oops >&2; exit 3'] }, { status: 'STATUS_EXITED', exit_code: 3 });
  await check('missing', { argv: ['no-such-program'] }, { status: 'STATUS_EXEC_FAILED', message: true });

  // ExecPipeline: each command in its own sandbox, stdout of one piped into stdin of the next by
  // the kernel; one result per command.
  try {
    const p = await new Promise((resolve, reject) =>
      client.ExecPipeline(
        {
          commands: [{ argv: ['echo', 'piped through two sandboxes'] }, { argv: ['tr', 'a-z', 'A-Z'] }],
          pipes: [{ writer: { command: 0, fd: 1 }, reader: { command: 1, fd: 0 } }],
        },
        { deadline: new Date(Date.now() + 30000) },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    const got = p.results.map((r) => `${r.status}/${r.exit_code}`).join(' | ');
    const out = p.results[1].stdout.toString();
    const ok = got === 'STATUS_EXITED/0 | STATUS_EXITED/0' && out === 'PIPED THROUGH TWO SANDBOXES\n';
    console.log(`${ok ? 'ok  ' : 'FAIL'} pipeline  echo | tr -> ${got} stdout=${JSON.stringify(out)}`);
    if (!ok) failures++;
  } catch (e) {
    console.log(`FAIL pipeline  RPC error ${grpc.status[e.code] || e.code}: ${e.details || e.message}`);
    failures++;
  }

  client.close();
  console.log(`node example: ${failures ? `${failures} check(s) failed` : 'all checks passed'}`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`node example: ${e.stack || e}`);
    process.exit(1);
  },
);
