#!/usr/bin/env node
// TEST-ONLY harness: runs @atproto/dev-env's TestNetwork (PLC, the reference
// PDS, the reference AppView `@atproto/bsky`, bsync and Ozone) in this one
// Node 22 process against a PostgreSQL database that run.sh created for this
// run, every server bound to 127.0.0.1, plus the label bridge described below.
//
// Never use this for anything but local tests: the admin password, the
// moderator account and the AppView's signing key are dev-env's fixed test
// values.
//
// Environment (run.sh sets the first two):
//   APPVIEW_HARNESS_DB_URL   postgres://... of an empty or disposable database (required)
//   TMPDIR                   where the PDS puts its data dirs (run.sh points it at a dir it removes)
//   APPVIEW_HARNESS_SCHEMA   suffix of the schemas (letters and _ only; default `harness`)
//   APPVIEW_HARNESS_LOG      `stderr` to see the services' logs (default: off)
//
// stdout carries exactly one line: `APPVIEW_READY {json}` once every service
// answers. Everything else goes to stderr. The process exits when stdin
// closes (so it dies with the parent holding the pipe), and on SIGTERM/SIGINT.
//
// THE LABEL BRIDGE (test-harness code, not part of any product): the npm
// AppView has no label ingester (production runs a separate service that
// subscribes to labelers), so labels Ozone emits never reach its `label`
// table and its views carry `labels: []`. The bridge stands in for that
// ingester: it copies each new or changed row of Ozone's `label` table into
// the AppView's `label` table, and deletes the AppView's row when Ozone's
// row is a negation. It runs when Ozone announces new labels (Ozone sends a
// Postgres NOTIFY on `label_channel` after each write) and every 250 ms as a
// fallback.
//
// THE EXTERNAL LABELER BRIDGE (test-harness code too): a labeler outside
// this process (e.g. the repository's example labeler) is ingested on
// request. `POST {bridge}/ingest-labeler` with `{"did": ..., "url": ...}`
// (the `bridge` URL of APPVIEW_READY, on 127.0.0.1) subscribes to that
// labeler's `com.atproto.label.subscribeLabels` from cursor 0, as
// production's label ingester does, and writes each label whose `src` is
// that DID into the AppView's `label` table (a negation deletes the row).
// Like that ingester it verifies nothing; unlike it, it cannot keep `sig`:
// the npm AppView's `label` table has no column for it (and its views and
// its queryLabels drop `sig` anyway). The AppView only applies labelers
// it knows as accounts (production labelers are accounts with a repo), so
// the request also registers the DID as an actor without a handle.

import http from 'node:http'
import net from 'node:net'

const log = (...args) => console.error(`[appview-harness ${new Date().toISOString().slice(11, 23)}]`, ...args)

const nodeMajor = Number(process.versions.node.split('.')[0])
if (nodeMajor < 22) {
  log(`Node ${process.versions.node} is too old: @atproto/dev-env needs Node >= 22. Use tests/appview/run.sh.`)
  process.exit(2)
}

const DB_URL = process.env.APPVIEW_HARNESS_DB_URL
if (!DB_URL) {
  log('APPVIEW_HARNESS_DB_URL is not set (run through tests/appview/run.sh)')
  process.exit(2)
}
const SCHEMA = process.env.APPVIEW_HARNESS_SCHEMA || 'harness'
if (!/^[a-z_]+$/.test(SCHEMA)) {
  // The services refuse schema names with anything else (even digits).
  log(`APPVIEW_HARNESS_SCHEMA must be lowercase letters and _ only, got ${SCHEMA}`)
  process.exit(2)
}
const APPVIEW_SCHEMA = `appview_${SCHEMA}`
const OZONE_SCHEMA = `ozone_${SCHEMA}`
const BSYNC_SCHEMA = `bsync_${SCHEMA}`

if (process.env.APPVIEW_HARNESS_LOG === 'stderr') {
  process.env.LOG_ENABLED = 'true'
  process.env.LOG_DESTINATION = '/dev/stderr'
  process.env.LOG_LEVEL ??= 'info'
} else {
  process.env.LOG_ENABLED = 'false'
  process.env.LOG_DESTINATION = '/dev/null'
}
// dev-env asserts that a Redis host is configured, but with the settings
// used here nothing connects to it.
process.env.REDIS_HOST ||= '127.0.0.1:1'

// ------------------------------------------------- loopback-only listening ---
// The services call `listen(port)`, which binds every interface: bind each
// listen in this process to 127.0.0.1 instead.
const LOOPBACK = '127.0.0.1'
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function loopbackListen(...args) {
  const first = args[0]
  const rest = args.slice(1)
  if (first === undefined || first === null || typeof first === 'number' ||
      (typeof first === 'string' && /^\d+$/.test(first))) {
    const cbs = rest.filter((a) => typeof a === 'function')
    return origListen.call(this, { port: Number(first ?? 0), host: LOOPBACK }, ...cbs)
  }
  if (typeof first === 'object' && first.port !== undefined && first.path === undefined &&
      first.fd === undefined && first._handle === undefined && !(first instanceof net.Server)) {
    return origListen.call(this, { ...first, host: LOOPBACK }, ...rest)
  }
  return origListen.apply(this, args)
}

const { default: pg } = await import('pg')
const { TestNetwork } = await import('@atproto/dev-env')
// A transitive dependency of dev-env: the WebSocket client with DAG-CBOR
// frames and reconnects that the services use among themselves.
const { Subscription } = await import('@atproto/xrpc-server')

// ------------------------------------------------------------- the schemas ---
// PLC lives in memory, so rows left by an earlier run against the same
// database would name DIDs that no longer resolve: start from empty schemas.
async function dropSchemas() {
  const client = new pg.Client({ connectionString: DB_URL })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${APPVIEW_SCHEMA}, ${OZONE_SCHEMA}, ${BSYNC_SCHEMA} CASCADE`)
  } finally {
    await client.end()
  }
}

// --------------------------------------------------------- the label bridge ---
// TEST-HARNESS CODE: see the header. Ozone replaces a label's row (and gives
// it a new `id`) whenever the label is emitted or negated again, so the
// rows with an id above the last one copied are exactly what changed.
function startLabelBridge() {
  const client = new pg.Client({ connectionString: DB_URL })
  let lastId = 0
  let running = null
  let again = false
  let stopped = false
  let copied = 0
  async function syncOnce() {
    const { rows } = await client.query(
      `SELECT id, src, uri, cid, val, neg, cts, exp FROM ${OZONE_SCHEMA}.label WHERE id > $1 ORDER BY id`,
      [lastId],
    )
    if (rows.length === 0) return
    await client.query('BEGIN')
    try {
      for (const r of rows) {
        if (r.neg) {
          await client.query(
            `DELETE FROM ${APPVIEW_SCHEMA}.label WHERE src = $1 AND uri = $2 AND cid = $3 AND val = $4`,
            [r.src, r.uri, r.cid, r.val],
          )
        } else {
          await client.query(
            `INSERT INTO ${APPVIEW_SCHEMA}.label (src, uri, cid, val, neg, cts, exp)
             VALUES ($1, $2, $3, $4, false, $5, $6)
             ON CONFLICT (src, uri, cid, val) DO UPDATE SET neg = false, cts = excluded.cts, exp = excluded.exp`,
            [r.src, r.uri, r.cid, r.val, r.cts, r.exp],
          )
        }
      }
      await client.query('COMMIT')
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {})
      throw e
    }
    lastId = Number(rows[rows.length - 1].id)
    copied += rows.length
  }
  function sync() {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    running = syncOnce()
      .catch((e) => log('label bridge:', e?.message ?? e))
      .finally(() => {
        running = null
        if (again) {
          again = false
          sync()
        }
      })
  }
  const ready = (async () => {
    await client.connect()
    client.on('notification', () => sync())
    client.on('error', (e) => log('label bridge connection:', e?.message ?? e))
    await client.query('LISTEN label_channel')
    timer = setInterval(sync, 250)
    sync()
  })()
  let timer = null
  return {
    ready,
    copied: () => copied,
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
      await client.end().catch(() => {})
    },
  }
}

// ------------------------------------------- the external labeler bridge ---
// TEST-HARNESS CODE: see the header. One subscription per labeler DID,
// resumed from the last sequence number it wrote after a reconnect.
const DID_RE = /^did:[a-z]+:[A-Za-z0-9._:%-]+$/
function startExternalLabelBridge() {
  const client = new pg.Client({ connectionString: DB_URL })
  const subs = new Map()
  let stopped = false
  // One connection shared by every labeler's subscription: its
  // transactions run one after another.
  let chain = Promise.resolve()
  const serial = (fn) => {
    const run = chain.then(fn)
    chain = run.catch(() => {})
    return run
  }
  client.on('error', (e) => log('external label bridge connection:', e?.message ?? e))

  async function registerActor(did) {
    await client.query(
      `INSERT INTO ${APPVIEW_SCHEMA}.actor (did, handle, "indexedAt") VALUES ($1, NULL, $2)
       ON CONFLICT (did) DO NOTHING`,
      [did, new Date().toISOString()],
    )
  }

  const writeLabels = (did, labels) => serial(() => writeLabelsNow(did, labels))
  async function writeLabelsNow(did, labels) {
    await client.query('BEGIN')
    try {
      for (const l of labels) {
        // A labeler speaks for itself only.
        if (l?.src !== did || typeof l.uri !== 'string' || typeof l.val !== 'string') continue
        const cid = typeof l.cid === 'string' ? l.cid : ''
        if (l.neg) {
          await client.query(
            `DELETE FROM ${APPVIEW_SCHEMA}.label WHERE src = $1 AND uri = $2 AND cid = $3 AND val = $4`,
            [l.src, l.uri, cid, l.val],
          )
        } else {
          await client.query(
            `INSERT INTO ${APPVIEW_SCHEMA}.label (src, uri, cid, val, neg, cts, exp)
             VALUES ($1, $2, $3, $4, false, $5, $6)
             ON CONFLICT (src, uri, cid, val) DO UPDATE SET neg = false, cts = excluded.cts, exp = excluded.exp`,
            [l.src, l.uri, cid, l.val, l.cts, l.exp ?? null],
          )
        }
      }
      await client.query('COMMIT')
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {})
      throw e
    }
  }

  async function follow(did, url, state) {
    while (!stopped && !state.abort.signal.aborted) {
      try {
        const sub = new Subscription({
          service: url.replace(/^http/, 'ws'),
          method: 'com.atproto.label.subscribeLabels',
          signal: state.abort.signal,
          getParams: () => ({ cursor: state.cursor }),
          validate: (body) => body,
        })
        for await (const msg of sub) {
          if (msg?.$type !== 'com.atproto.label.subscribeLabels#labels') continue
          await writeLabels(did, Array.isArray(msg.labels) ? msg.labels : [])
          if (typeof msg.seq === 'number') state.cursor = msg.seq
          state.written += msg.labels?.length ?? 0
        }
      } catch (e) {
        if (stopped || state.abort.signal.aborted) return
        log(`external label bridge (${did}):`, e?.message ?? e)
      }
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  async function ingest(did, url) {
    if (typeof did !== 'string' || !DID_RE.test(did)) throw new Error(`not a DID: ${JSON.stringify(did)}`)
    if (typeof url !== 'string' || !/^https?:\/\/[^/]+$/.test(url)) {
      throw new Error(`not a service URL (http(s)://host[:port]): ${JSON.stringify(url)}`)
    }
    await serial(() => registerActor(did))
    if (subs.has(did)) return
    const state = { cursor: 0, written: 0, abort: new AbortController() }
    state.done = follow(did, url, state)
    subs.set(did, state)
    log(`external label bridge: ingesting ${did} from ${url}`)
  }

  const server = http.createServer((req, res) => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method !== 'POST' || req.url !== '/ingest-labeler') {
      return reply(404, { error: 'NotFound', message: 'POST /ingest-labeler {"did","url"}' })
    }
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => {
      text += chunk
      if (text.length > 4096) req.destroy()
    })
    req.on('end', () => {
      let body
      try {
        body = JSON.parse(text)
      } catch {
        return reply(400, { error: 'InvalidRequest', message: 'the body is not JSON' })
      }
      ingest(body?.did, body?.url).then(
        () => reply(200, { did: body.did }),
        (e) => reply(400, { error: 'InvalidRequest', message: e?.message ?? String(e) }),
      )
    })
  })
  const ready = (async () => {
    await client.connect()
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: 0, host: LOOPBACK }, resolve)
    })
  })()
  return {
    ready,
    url: () => `http://${LOOPBACK}:${server.address().port}`,
    async stop() {
      stopped = true
      server.close()
      for (const state of subs.values()) state.abort.abort()
      await Promise.all([...subs.values()].map((s) => s.done))
      await client.end().catch(() => {})
    },
  }
}

// ------------------------------------------------------------------ start ---
async function waitHealthy(name, url, deadlineMs) {
  const until = Date.now() + deadlineMs
  let last = null
  while (Date.now() < until) {
    try {
      const res = await fetch(`${url}/xrpc/_health`)
      if (res.ok) return
      last = `status ${res.status}`
    } catch (e) {
      last = e?.message ?? String(e)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${name} at ${url} did not answer _health: ${last}`)
}

let network = null
let bridge = null
let externalBridge = null
let shuttingDown = false
async function shutdown(why, code = 0) {
  if (shuttingDown) return
  shuttingDown = true
  log(`shutting down (${why})`)
  const force = setTimeout(() => process.exit(code), 10_000)
  force.unref()
  try {
    await bridge?.stop()
    await externalBridge?.stop()
    // Closing the network waits for the AppView to catch up first; don't
    // let that hold up the exit for long.
    await Promise.race([network?.close(), new Promise((r) => setTimeout(r, 5_000))])
  } catch (e) {
    log('close:', e?.message ?? e)
  }
  process.exit(code)
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGHUP', () => shutdown('SIGHUP'))
process.stdin.on('end', () => shutdown('stdin closed'))
process.stdin.on('close', () => shutdown('stdin closed'))
process.stdin.on('error', () => shutdown('stdin error'))
process.stdin.resume()

try {
  const started = Date.now()
  await dropSchemas()
  network = await TestNetwork.create({ dbPostgresUrl: DB_URL, dbPostgresSchema: SCHEMA })
  bridge = startLabelBridge()
  await bridge.ready
  externalBridge = startExternalLabelBridge()
  await externalBridge.ready
  await Promise.all([
    waitHealthy('pds', network.pds.url, 30_000),
    waitHealthy('appview', network.bsky.url, 30_000),
    waitHealthy('ozone', network.ozone.url, 30_000),
  ])
  const ready = {
    pds: network.pds.url,
    pdsDid: network.pds.ctx.cfg.service.did,
    plc: network.plc.url,
    appview: network.bsky.url,
    appviewDid: network.bsky.ctx.cfg.serverDid,
    ozone: network.ozone.url,
    ozoneDid: network.ozone.ctx.cfg.service.did,
    // The Ozone service account (an Ozone admin) on the PDS.
    moderatorHandle: 'mod-authority.test',
    moderatorPassword: 'hunter2',
    // HTTP Basic `admin:<adminPassword>` on the PDS, the AppView and Ozone.
    adminPassword: 'admin-pass',
    // POST /ingest-labeler {did, url}: the external labeler bridge.
    bridge: externalBridge.url(),
    schema: SCHEMA,
    pid: process.pid,
    startMs: Date.now() - started,
  }
  log(`ready in ${ready.startMs} ms: pds ${ready.pds}, appview ${ready.appview}, ozone ${ready.ozone} (${ready.ozoneDid})`)
  process.stdout.write(`APPVIEW_READY ${JSON.stringify(ready)}\n`)
} catch (e) {
  log('failed to start:', e?.stack ?? e)
  await shutdown('start failed', 1)
}
