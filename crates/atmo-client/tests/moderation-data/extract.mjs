// Turns @atproto/api's published moderation test suites into data the Rust
// test `moderation_suites` replays, one case per upstream test.
//
// Usage (Node 22, from anywhere):
//   ATPROTO_API_DIR=<dir of the @atproto/api npm package> \
//   node --experimental-transform-types --no-warnings extract.mjs [TESTS_DIR] [OUT_DIR]
//
// TESTS_DIR holds upstream `packages/api/tests/` files of the same release
// as the package (default: ../shared/atproto-api-tests next to the
// repository): moderation.test.ts, moderation-behaviors.test.ts,
// moderation-custom-labels.test.ts, moderation-quoteposts.test.ts,
// moderation-mutewords.test.ts and util/moderation-behavior.ts. OUT_DIR defaults to target/moderation-suites in
// the repository; nothing is written inside the source tree.
//
// How: each test file is run under a small stand-in for the test framework
// (describe / it / it.each / expect) with its imports of the package source
// pointed at the published package, whose moderation entry points are wrapped
// to record every call. Every upstream assertion is checked for real against
// the package, so a recorded case is one the reference implementation
// passes; for each call the package's actual answer is stored (the UI flags
// in all eight contexts and the cause types for a decision, the matched
// words for matchMuteWords). Tests that fail against the package are listed
// and left out.

import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import util from 'node:util'

const here = path.dirname(new URL(import.meta.url).pathname)
const repo = path.resolve(here, '../../../..')
const testsDir = path.resolve(process.argv[2] || path.join(repo, '../shared/atproto-api-tests'))
const outDir = path.resolve(process.argv[3] || path.join(repo, 'target/moderation-suites'))
const SUITES = [
  'moderation.test.ts',
  'moderation-behaviors.test.ts',
  'moderation-custom-labels.test.ts',
  'moderation-quoteposts.test.ts',
  'moderation-mutewords.test.ts',
]
const CONTEXTS = [
  'profileList', 'profileView', 'avatar', 'banner',
  'displayName', 'contentList', 'contentView', 'contentMedia',
]

function fail(msg) {
  console.error(`extract: ${msg}`)
  process.exit(1)
}

if (!fs.existsSync(testsDir)) fail(`no upstream tests at ${testsDir}`)
const apiDir = process.env.ATPROTO_API_DIR
  ? path.resolve(process.env.ATPROTO_API_DIR)
  : path.join(testsDir, 'node_modules/@atproto/api')
const apiPkg = path.join(apiDir, 'package.json')
if (!fs.existsSync(apiPkg)) fail(`no @atproto/api package at ${apiDir} (set ATPROTO_API_DIR)`)
const apiVersion = JSON.parse(fs.readFileSync(apiPkg, 'utf8')).version
const apiEntry = pathToFileURL(path.join(apiDir, 'dist/index.js')).href

// ------------------------------------------------------------ recording

let current = null // the test being run: { calls: [] }

function plain(v) {
  // JSON as the wire has it: BlobRef and CID through their toJSON, undefined
  // dropped.
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)) ?? 'null')
}

function decisionOutcome(d) {
  const ui = {}
  for (const c of CONTEXTS) {
    const u = d.ui(c)
    ui[c] = { filter: u.filter, blur: u.blur, alert: u.alert, inform: u.inform, noOverride: u.noOverride }
  }
  return { ui, causes: d.causes.map((c) => c.type) }
}

function recordDecision(fn, real) {
  return (subject, opts) => {
    const d = real(subject, opts)
    current?.calls.push({ fn, subject: plain(subject), opts: plain(opts), outcome: decisionOutcome(d) })
    return d
  }
}

const real = await import(apiEntry)
globalThis.__moderationShim = {
  moderatePost: recordDecision('moderatePost', real.moderatePost),
  moderateProfile: recordDecision('moderateProfile', real.moderateProfile),
  moderateNotification: recordDecision('moderateNotification', real.moderateNotification),
  moderateFeedGenerator: recordDecision('moderateFeedGenerator', real.moderateFeedGenerator),
  moderateUserList: recordDecision('moderateUserList', real.moderateUserList),
  matchMuteWords(params) {
    const m = real.matchMuteWords(params)
    current?.calls.push({
      fn: 'matchMuteWords',
      params: plain(params),
      outcome: { matches: (m || []).map((x) => ({ value: x.word.value, predicate: x.predicate })) },
    })
    return m
  },
}

// The stand-in for the package source the tests import.
const shimDir = fs.mkdtempSync(path.join(os.tmpdir(), 'moderation-extract-'))
const shim = path.join(shimDir, 'api-shim.mjs')
fs.writeFileSync(
  shim,
  `export * from ${JSON.stringify(apiEntry)}
const s = globalThis.__moderationShim
export const moderatePost = s.moderatePost
export const moderateProfile = s.moderateProfile
export const moderateNotification = s.moderateNotification
export const moderateFeedGenerator = s.moderateFeedGenerator
export const moderateUserList = s.moderateUserList
export const matchMuteWords = s.matchMuteWords
export const hasMutedWord = (p) => !!s.matchMuteWords(p)
export const asPredicate = (validate) => (v) => validate(v).success
`,
)

function rewrite(src) {
  // Every import of the package's source (src/index.js, src/mocker.js,
  // src/moderation/*.js, src/client/util.js) goes to the shim.
  // Local helpers are imported as `.js` but are `.ts` files.
  return src
    .replace(/from\s+'(\.\.\/)+src\/[^']*'/g, `from ${JSON.stringify(pathToFileURL(shim).href)}`)
    .replace(/'(\.\/util\/[^']+)\.js'/g, "'$1.ts'")
}

// ------------------------------------------------- the test framework

const registered = []
const describeStack = []
const hooks = { beforeEach: [], afterEach: [] }

function format(name, args, row) {
  let out = name
  if (row && typeof row === 'object' && !Array.isArray(row)) {
    out = out.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, k) => String(row[k]))
  }
  let i = 0
  out = out.replace(/%[sdpjio#%]/g, (m) => (m === '%%' ? '%' : m === '%#' ? '' : util.format(m, args[i++])))
  return out
}

globalThis.describe = (name, fn) => {
  describeStack.push(name)
  fn()
  describeStack.pop()
}
globalThis.describe.each = (table) => (name, fn) =>
  table.forEach((row) => {
    const args = Array.isArray(row) ? row : [row]
    globalThis.describe(format(name, args, row), () => fn(...args))
  })
globalThis.it = (name, fn) => registered.push({ name: [...describeStack, name].join(' > '), fn })
globalThis.it.each = (table) => (name, fn) =>
  table.forEach((row) => {
    const args = Array.isArray(row) ? row : [row]
    globalThis.it(format(name, args, row), () => fn(...args))
  })
globalThis.test = globalThis.it
globalThis.beforeEach = (fn) => hooks.beforeEach.push(fn)
globalThis.afterEach = (fn) => hooks.afterEach.push(fn)
globalThis.beforeAll = (fn) => fn()
globalThis.afterAll = () => {}

const extraMatchers = {}
function check(pass, what) {
  if (!pass) throw new Error(`expectation failed: ${what}`)
}
function expect(actual) {
  const m = {
    toBe: (e) => check(Object.is(actual, e), `${util.inspect(actual)} toBe ${util.inspect(e)}`),
    toEqual: (e) => check(util.isDeepStrictEqual(plain(actual), plain(e)), `${util.inspect(actual, { depth: 5 })} toEqual ${util.inspect(e, { depth: 5 })}`),
    toStrictEqual: (e) => check(util.isDeepStrictEqual(actual, e), 'toStrictEqual'),
    toBeTruthy: () => check(!!actual, `${util.inspect(actual)} toBeTruthy`),
    toBeFalsy: () => check(!actual, `${util.inspect(actual)} toBeFalsy`),
    toBeUndefined: () => check(actual === undefined, `${util.inspect(actual)} toBeUndefined`),
    toBeDefined: () => check(actual !== undefined, 'toBeDefined'),
    toBeNull: () => check(actual === null, 'toBeNull'),
    toHaveLength: (n) => check(actual?.length === n, `length ${actual?.length} toHaveLength ${n}`),
    toContain: (x) => check(actual.includes(x), 'toContain'),
    toBeGreaterThan: (x) => check(actual > x, 'toBeGreaterThan'),
  }
  for (const [k, f] of Object.entries(extraMatchers)) {
    m[k] = (...args) => {
      const r = f.call({}, actual, ...args)
      check(r.pass, typeof r.message === 'function' ? r.message() : k)
    }
  }
  m.not = {}
  for (const [k, f] of Object.entries(m)) {
    if (k === 'not') continue
    m.not[k] = (...args) => {
      let threw = false
      try {
        f(...args)
      } catch {
        threw = true
      }
      check(threw, `not.${k}`)
    }
  }
  return m
}
expect.extend = (ms) => Object.assign(extraMatchers, ms)
expect.any = () => ({})
globalThis.expect = expect

// ---------------------------------------------------------------- run

fs.mkdirSync(outDir, { recursive: true })
const work = path.join(shimDir, 'tests')
fs.mkdirSync(path.join(work, 'util'), { recursive: true })
const utilSrc = path.join(testsDir, 'util/moderation-behavior.ts')
if (fs.existsSync(utilSrc)) {
  fs.writeFileSync(path.join(work, 'util/moderation-behavior.ts'), rewrite(fs.readFileSync(utilSrc, 'utf8')))
}

let total = 0
for (const file of SUITES) {
  const src = path.join(testsDir, file)
  if (!fs.existsSync(src)) fail(`missing ${src}`)
  const text = fs.readFileSync(src, 'utf8')
  const copy = path.join(work, file)
  fs.writeFileSync(copy, rewrite(text))
  registered.length = 0
  await import(pathToFileURL(copy).href)
  const cases = []
  const failed = []
  for (const t of registered) {
    current = { calls: [], startedAtMs: Date.now() }
    try {
      for (const h of hooks.beforeEach) await h()
      await t.fn()
      for (const h of hooks.afterEach) await h()
      if (current.calls.length) {
        cases.push({ name: t.name, startedAtMs: current.startedAtMs, calls: current.calls })
      }
    } catch (e) {
      failed.push({ name: t.name, error: String(e.message || e).slice(0, 300) })
    }
    current = null
  }
  const suite = file.replace(/\.test\.ts$/, '')
  const out = {
    suite,
    source: { file, sha256: createHash('sha256').update(text).digest('hex') },
    package: { name: '@atproto/api', version: apiVersion },
    failedUpstream: failed,
    cases,
  }
  fs.writeFileSync(path.join(outDir, `${suite}.json`), JSON.stringify(out, null, 1))
  total += cases.length
  console.log(`${suite}: ${cases.length} cases recorded, ${failed.length} upstream tests failed against ${apiVersion}`)
  for (const f of failed) console.log(`  failed upstream: ${f.name}: ${f.error}`)
}
fs.rmSync(shimDir, { recursive: true, force: true })
console.log(`extract: ${total} cases written to ${outDir}`)
