#!/usr/bin/env node
// TEST-ONLY harness: runs the reference atproto PDS (@atproto/pds) together with
// an in-memory DID PLC directory (@did-plc/server), both bound to 127.0.0.1,
// plus a small loopback "harness" HTTP API used by end-to-end tests.
//
// Never use this for anything but local tests: secrets are random per run,
// data lives in a throw-away temp dir, and it has test-only switches
// (shortened access-token lifetime, email token peeking).
//
// The harness API can also stop and start the PDS service object again on
// the same config, data directory and port while the PLC directory keeps
// its DIDs (POST /test/pds/stop|start|restart), for restart tests.
//
// stdout carries exactly one line: `PDS_READY {json}` once everything answers.
// Everything else goes to stderr. The process exits when stdin closes (so it
// dies with the parent that holds the pipe), and on SIGTERM/SIGINT.
//
// Options (each also settable by env var):
//   --invites            PDS_INVITE_REQUIRED=true       (default: false)
//   --rate-limits        PDS_RATE_LIMITS_ENABLED=true   (default: false)
//   --access-ttl N       PDS_TEST_ACCESS_TOKEN_TTL_SECS=N  TEST-ONLY: access JWTs expire after N s
//   --pds-port N         PDS_HARNESS_PDS_PORT           (default: a free port)
//   --plc-port N         PDS_HARNESS_PLC_PORT           (default: a free port)
//   --harness-port N     PDS_HARNESS_PORT               (default: a free port)
//   --keep-data          PDS_HARNESS_KEEP_DATA=1        keep the temp data dir on exit
//   --no-stdin-watch     PDS_HARNESS_IGNORE_STDIN=1     don't exit when stdin closes
//   --log DEST           PDS_HARNESS_LOG=stderr|<file>  enable PDS/PLC logs (default: off)

import crypto from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

const log = (...args) => console.error(`[pds-harness ${new Date().toISOString().slice(11, 23)}]`, ...args)

const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 22) {
  log(`Node ${process.versions.node} is too old: @atproto/pds needs Node >= 22. Use tests/pds/run.sh (it uses tests/pds/.node).`)
  process.exit(2)
}

// ---------------------------------------------------------------- options ---
function parseArgs(argv) {
  const env = process.env
  const truthy = (v) => /^(1|true|yes|on)$/i.test(v ?? '')
  const opts = {
    invites: truthy(env.PDS_INVITE_REQUIRED),
    rateLimits: truthy(env.PDS_RATE_LIMITS_ENABLED),
    accessTtl: env.PDS_TEST_ACCESS_TOKEN_TTL_SECS ? Number(env.PDS_TEST_ACCESS_TOKEN_TTL_SECS) : null,
    pdsPort: env.PDS_HARNESS_PDS_PORT ? Number(env.PDS_HARNESS_PDS_PORT) : 0,
    plcPort: env.PDS_HARNESS_PLC_PORT ? Number(env.PDS_HARNESS_PLC_PORT) : 0,
    harnessPort: env.PDS_HARNESS_PORT ? Number(env.PDS_HARNESS_PORT) : 0,
    keepData: truthy(env.PDS_HARNESS_KEEP_DATA),
    watchStdin: !truthy(env.PDS_HARNESS_IGNORE_STDIN),
    log: env.PDS_HARNESS_LOG || null,
  }
  const num = (name, v) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} expects a non-negative integer, got ${v}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    switch (a) {
      case '--invites': opts.invites = true; break
      case '--rate-limits': opts.rateLimits = true; break
      case '--access-ttl': opts.accessTtl = num(a, next()); break
      case '--pds-port': opts.pdsPort = num(a, next()); break
      case '--plc-port': opts.plcPort = num(a, next()); break
      case '--harness-port': opts.harnessPort = num(a, next()); break
      case '--keep-data': opts.keepData = true; break
      case '--no-stdin-watch': opts.watchStdin = false; break
      case '--log': opts.log = next(); break
      case '-h': case '--help':
        process.stderr.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n')
        process.exit(0)
      default: throw new Error(`unknown argument: ${a}`)
    }
  }
  if (opts.accessTtl !== null && !(Number.isInteger(opts.accessTtl) && opts.accessTtl > 0)) {
    throw new Error(`access token TTL must be a positive integer number of seconds`)
  }
  return opts
}

let opts
try {
  opts = parseArgs(process.argv.slice(2))
} catch (err) {
  log(String(err.message ?? err))
  process.exit(2)
}

// Logging of the PDS / PLC (pino) is configured from env at module load time,
// so set it up before importing them. Never let them write to stdout.
if (opts.log) {
  process.env.LOG_ENABLED = 'true'
  process.env.LOG_DESTINATION = opts.log === 'stderr' ? '/dev/stderr' : path.resolve(opts.log)
  process.env.LOG_LEVEL ??= 'info'
} else {
  process.env.LOG_ENABLED = 'false'
  process.env.LOG_DESTINATION = '/dev/null'
}

// ------------------------------------------------- loopback-only listening ---
// The PDS and the PLC server both call `app.listen(port)`, which binds all
// interfaces. Force every listen in this process onto 127.0.0.1, and hand out
// pre-bound sockets for ports we reserved up front (no probe-then-rebind race).
const LOOPBACK = '127.0.0.1'
const reserved = new Map() // port -> pre-bound net.Server
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function patchedListen(...args) {
  const cbs = args.filter((a) => typeof a === 'function')
  const first = args[0]
  let port = null
  let extra = {}
  if (first === undefined || first === null || typeof first === 'number' ||
      (typeof first === 'string' && /^\d+$/.test(first))) {
    port = Number(first ?? 0)
  } else if (typeof first === 'object' && first.port !== undefined && first.path === undefined &&
             first.fd === undefined && first._handle === undefined && !(first instanceof net.Server)) {
    const { host: _ignored, ...rest } = first
    port = Number(first.port)
    extra = rest
  }
  if (port === null) return origListen.apply(this, args) // handle / fd / unix path: leave alone
  const pre = reserved.get(port)
  if (pre) {
    reserved.delete(port)
    return origListen.call(this, pre, ...cbs)
  }
  return origListen.call(this, { ...extra, port, host: LOOPBACK }, ...cbs)
}

async function reservePort(port) {
  const srv = net.createServer()
  origListen.call(srv, { port, host: LOOPBACK, exclusive: true })
  await once(srv, 'listening')
  const actual = srv.address().port
  reserved.set(actual, srv)
  return actual
}

// --------------------------------------------- TEST-ONLY access token TTL ---
// The PDS hard-codes a 2h lifetime for its (HS256, typ "at+jwt") access
// tokens. When a TTL is configured, rewrite `exp` just before such a token is
// signed. The PDS then verifies it itself and answers 400 ExpiredToken.
let accessTtlSecs = opts.accessTtl
const { SignJWT } = await import('jose')
{
  // Make sure we patch the very same `jose` the PDS uses.
  const pdsRequire = createRequire(require.resolve('@atproto/pds/package.json'))
  const ours = path.dirname(require.resolve('jose/package.json'))
  const theirs = path.dirname(pdsRequire.resolve('jose/package.json'))
  if (ours !== theirs) {
    log(`FATAL: jose used by @atproto/pds (${theirs}) differs from ours (${ours}); fix package.json`)
    process.exit(3)
  }
  const origSign = SignJWT.prototype.sign
  SignJWT.prototype.sign = function patchedSign(...args) {
    const hdr = this._protectedHeader
    if (accessTtlSecs && hdr && hdr.typ === 'at+jwt' && hdr.alg === 'HS256') {
      this.setExpirationTime(Math.floor(Date.now() / 1000) + accessTtlSecs)
    }
    return origSign.apply(this, args)
  }
}

// ------------------------------------------------------------------ start ---
const { PDS, envToCfg, envToSecrets, readEnv } = await import('@atproto/pds')
const { Database: PlcDatabase, PlcServer } = require('@did-plc/server')

const randHex = (bytes) => crypto.randomBytes(bytes).toString('hex')
function k256PrivateKeyHex() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
  return Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url').toString('hex').padStart(64, '0')
}

const dataRoot = fs.mkdtempSync(path.join(process.env.PDS_HARNESS_DATA_ROOT || os.tmpdir(), 'atproto-test-pds-'))
let plc = null
let pds = null
let harness = null
let stopping = false
// The PDS can be stopped and started again on the same data directory and
// port while the PLC directory (and so every DID) stays: see startPds.
let pdsCfg = null // { port }
let pdsStarts = 0 // how many times a PDS service object has started
let pdsInstance = null // random id of the running PDS service object
let pdsLifecycle = Promise.resolve() // serialises stop/start requests
const mails = [] // every mail any PDS instance "sent"

async function shutdown(reason, code = 0) {
  if (stopping) return
  stopping = true
  log(`stopping (${reason})`)
  const hard = setTimeout(() => { log('forced exit'); cleanupData(); process.exit(code) }, 8000)
  hard.unref()
  const t0 = Date.now()
  try { harness?.closeAllConnections?.(); harness?.close() } catch {}
  try { await pds?.destroy() } catch (err) { log('pds destroy failed:', err?.message ?? err) }
  log(`pds stopped after ${Date.now() - t0}ms`)
  try { await plc?.destroy() } catch (err) { log('plc destroy failed:', err?.message ?? err) }
  cleanupData()
  log(`stopped after ${Date.now() - t0}ms`)
  process.exit(code)
}
function cleanupData() {
  if (opts.keepData) return
  try { fs.rmSync(dataRoot, { recursive: true, force: true }) } catch {}
}

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGHUP', () => shutdown('SIGHUP'))
process.stdout.on('error', () => {}) // parent went away: EPIPE
if (opts.watchStdin) {
  process.stdin.on('end', () => shutdown('stdin closed'))
  process.stdin.on('close', () => shutdown('stdin closed'))
  process.stdin.on('error', () => shutdown('stdin error'))
  process.stdin.resume()
}

try {
  // 1. PLC directory, in memory.
  const plcPort = await reservePort(opts.plcPort)
  const plcDb = PlcDatabase.mock()
  plc = PlcServer.create({ db: plcDb, port: plcPort })
  await plc.start()
  const plcUrl = `http://localhost:${plcPort}`
  log(`plc listening on ${LOOPBACK}:${plcPort}`)

  // 2. PDS.
  const pdsPort = await reservePort(opts.pdsPort)
  const dataDir = path.join(dataRoot, 'data')
  const blobDir = path.join(dataRoot, 'blobs')
  fs.mkdirSync(dataDir, { recursive: true })
  fs.mkdirSync(blobDir, { recursive: true })
  const adminPassword = process.env.PDS_ADMIN_PASSWORD || `admin-${randHex(12)}`
  const jwtSecret = process.env.PDS_JWT_SECRET || randHex(32)
  const pdsEnv = {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(pdsPort),
    PDS_DEV_MODE: 'true',
    PDS_DID_PLC_URL: plcUrl,
    PDS_INVITE_REQUIRED: opts.invites ? 'true' : 'false',
    PDS_ENABLE_DID_DOC_WITH_SESSION: 'true',
    PDS_DATA_DIRECTORY: dataDir,
    PDS_BLOBSTORE_DISK_LOCATION: blobDir,
    PDS_JWT_SECRET: jwtSecret,
    PDS_ADMIN_PASSWORD: adminPassword,
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX:
      process.env.PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX || k256PrivateKeyHex(),
    PDS_SERVICE_HANDLE_DOMAINS: '.test',
    PDS_RATE_LIMITS_ENABLED: opts.rateLimits ? 'true' : 'false',
    PDS_CRAWLERS: '',
  }
  Object.assign(process.env, pdsEnv) // other PDS_* vars from the caller pass through
  pdsCfg = { port: pdsPort }
  await startPds()
  const pdsUrl = pds.ctx.cfg.service.publicUrl
  log(`pds listening on ${LOOPBACK}:${pdsPort} (${pdsUrl})`)

  // 3. Harness API (loopback only).
  harness = http.createServer((req, res) => {
    handleHarness(req, res).catch((err) => {
      log('harness error:', err)
      sendJson(res, 500, { error: 'InternalError', message: String(err?.message ?? err) })
    })
  })
  const harnessPort = await reservePort(opts.harnessPort)
  harness.listen(harnessPort)
  await once(harness, 'listening')

  // 4. Wait for health, then announce.
  await waitHealthy(`http://${LOOPBACK}:${pdsPort}/xrpc/_health`)
  await waitHealthy(`http://${LOOPBACK}:${plcPort}/_health`)
  const ready = {
    pds: pdsUrl,
    plc: plcUrl,
    harness: `http://${LOOPBACK}:${harnessPort}`,
    adminPassword,
    jwtSecret,
    serviceDid: pds.ctx.cfg.service.did,
    handleDomains: pds.ctx.cfg.identity.serviceHandleDomains,
    inviteRequired: opts.invites,
    rateLimits: opts.rateLimits,
    accessTtlSecs,
    dataDir: dataRoot,
    pid: process.pid,
    pdsStarts,
    pdsInstance,
  }
  process.stdout.write(`PDS_READY ${JSON.stringify(ready)}\n`)
  log('ready')
} catch (err) {
  log('startup failed:', err?.stack ?? err)
  await shutdown('startup failure', 1)
}

// Creates and starts a PDS service object from the environment set up
// above (same config, secrets, data directory, blob directory and port),
// and hooks its mailers. The first start binds the port reserved up front;
// a later one binds it again after stopPds released it.
async function startPds() {
  const env = readEnv()
  const next = await PDS.create(envToCfg(env), envToSecrets(env))
  try {
    await next.start()
  } catch (err) {
    try { await next.destroy() } catch {}
    throw err
  }
  pds = next
  pdsStarts += 1
  pdsInstance = randHex(8)
  // Capture outgoing mail (there is no SMTP: the PDS uses a JSON transport).
  for (const mailer of [pds.ctx.mailer, pds.ctx.moderationMailer]) {
    const t = mailer?.transporter
    if (!t?.sendMail) continue
    const orig = t.sendMail.bind(t)
    t.sendMail = async (msg, ...rest) => {
      const res = await orig(msg, ...rest)
      let parsed = {}
      try { parsed = JSON.parse(res.message) } catch {}
      mails.push({
        to: msg.to, subject: msg.subject, text: parsed.text ?? null,
        sentAt: new Date().toISOString(),
      })
      return res
    }
  }
  await waitHealthy(`http://${LOOPBACK}:${pdsCfg.port}/xrpc/_health`)
}

// Stops the running PDS service object: its HTTP server (open connections,
// firehose subscribers included, are closed), sequencer and databases. The
// data directory stays; the port is free until startPds.
async function stopPds() {
  const old = pds
  pds = null
  pdsInstance = null
  if (old) await old.destroy()
}

function pdsStatus() {
  return { running: pds !== null, starts: pdsStarts, instance: pdsInstance, port: pdsCfg?.port ?? null }
}

// Runs one stop/start step after any step already requested.
function lifecycle(step) {
  const run = pdsLifecycle.then(step)
  pdsLifecycle = run.catch(() => {})
  return run
}

async function waitHealthy(url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const r = await fetch(url)
      if (r.ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`not healthy in time: ${url}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function sendJson(res, status, body) {
  const buf = Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buf.length })
  res.end(buf)
}

// Harness endpoints (all TEST-ONLY):
//   GET  /test/health
//   GET  /test/email-token?did=DID&purpose=confirm_email|update_email|reset_password|delete_account|plc_operation
//        -> 200 {did,purpose,token,requestedAt} | 404 {error:"NotFound"}
//   GET  /test/emails[?to=ADDR]       -> 200 {emails:[{to,subject,text,sentAt}]}
//   GET  /test/access-ttl             -> 200 {accessTtlSecs}
//   POST /test/access-ttl?secs=N|off  -> 200 {accessTtlSecs}
//   GET  /test/pds                    -> 200 {running,starts,instance,port}
//   POST /test/pds/stop               -> 200 {running:false,...} once the PDS is stopped
//   POST /test/pds/start              -> 200 {running:true,...} once a new PDS answers
//   POST /test/pds/restart[?downMs=N] -> stop, wait N ms (default 0), start; 200 {running:true,...}
//   POST /test/shutdown               -> 200, then the harness stops
async function handleHarness(req, res) {
  const url = new URL(req.url, 'http://harness')
  const q = url.searchParams
  const route = `${req.method} ${url.pathname}`
  switch (route) {
    case 'GET /test/health':
      return sendJson(res, 200, { ok: true })
    case 'GET /test/email-token': {
      const did = q.get('did')
      const purpose = q.get('purpose') || 'confirm_email'
      if (!did) return sendJson(res, 400, { error: 'InvalidRequest', message: 'did is required' })
      if (!pds) return sendJson(res, 409, { error: 'PdsStopped', message: 'the PDS is stopped' })
      const row = await pds.ctx.accountManager.db.db
        .selectFrom('email_token')
        .selectAll()
        .where('did', '=', did)
        .where('purpose', '=', purpose)
        .executeTakeFirst()
      if (!row) return sendJson(res, 404, { error: 'NotFound', message: `no ${purpose} token for ${did}` })
      return sendJson(res, 200, { did: row.did, purpose: row.purpose, token: row.token, requestedAt: row.requestedAt })
    }
    case 'GET /test/emails': {
      const to = q.get('to')
      return sendJson(res, 200, { emails: to ? mails.filter((m) => m.to === to) : mails })
    }
    case 'GET /test/access-ttl':
      return sendJson(res, 200, { accessTtlSecs })
    case 'POST /test/access-ttl': {
      const secs = q.get('secs')
      if (secs === 'off' || secs === '0' || secs === null) accessTtlSecs = null
      else if (/^\d+$/.test(secs)) accessTtlSecs = Number(secs)
      else return sendJson(res, 400, { error: 'InvalidRequest', message: 'secs must be a positive integer or "off"' })
      return sendJson(res, 200, { accessTtlSecs })
    }
    case 'GET /test/pds':
      return sendJson(res, 200, pdsStatus())
    case 'POST /test/pds/stop':
    case 'POST /test/pds/start':
    case 'POST /test/pds/restart': {
      const action = url.pathname.slice('/test/pds/'.length)
      const downMs = q.has('downMs') ? Number(q.get('downMs')) : 0
      if (!Number.isInteger(downMs) || downMs < 0 || downMs > 600_000) {
        return sendJson(res, 400, { error: 'InvalidRequest', message: 'downMs must be an integer from 0 to 600000' })
      }
      if (stopping) return sendJson(res, 409, { error: 'ShuttingDown', message: 'the harness is stopping' })
      try {
        await lifecycle(async () => {
          if (action !== 'start' && pds) {
            await stopPds()
            log(`pds stopped (${route})`)
          }
          if (action === 'restart' && downMs > 0) await new Promise((r) => setTimeout(r, downMs))
          if (action !== 'stop' && !pds) {
            await startPds()
            log(`pds started again on ${LOOPBACK}:${pdsCfg.port}, start ${pdsStarts}`)
          }
        })
      } catch (err) {
        log(`${route} failed:`, err?.stack ?? err)
        return sendJson(res, 500, { error: 'PdsLifecycleFailed', message: String(err?.message ?? err), ...pdsStatus() })
      }
      return sendJson(res, 200, pdsStatus())
    }
    case 'POST /test/shutdown':
      sendJson(res, 200, { ok: true })
      setImmediate(() => shutdown('shutdown request'))
      return
    default:
      return sendJson(res, 404, { error: 'NotFound', message: route })
  }
}
