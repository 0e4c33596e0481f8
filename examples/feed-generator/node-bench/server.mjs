// getFeedSkeleton on the official @atproto/xrpc-server: the Node side of
// the comparison run by `cargo run --release -p feed-generator-example
// --example skeleton_bench`. The bench starts this file itself; it is not a
// service to deploy.
//
// Same work as the Rust example's handler: the official lexicon (params
// checked against it), a service JWT checked with `verifyJwt` (aud = this
// service's DID, lxm = the method) against the caller's did:key from an
// in-memory cache (no network per request), then one page of an in-memory
// list of post URIs, newest first, with a cursor.
//
// usage: node server.mjs <service did> <feed uri> <caller did> <caller did:key> <posts> [--no-validate-response]
// Listens on 127.0.0.1 on a free port and prints `listening <port>` once ready.

import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  AuthRequiredError,
  InvalidRequestError,
  createServer,
  verifyJwt,
} from '@atproto/xrpc-server'

const NSID = 'app.bsky.feed.getFeedSkeleton'
const LEXICONS = join(dirname(fileURLToPath(import.meta.url)), '../../../lexicons')

const [serviceDid, feedUri, callerDid, callerKey, posts, ...flags] =
  process.argv.slice(2)
if (!posts) {
  console.error(
    'usage: node server.mjs <service did> <feed uri> <caller did> <caller did:key> <posts> [--no-validate-response]',
  )
  process.exit(2)
}

// The method's lexicon and every document it refers to, transitively.
function loadLexicons(root) {
  const docs = new Map()
  const pending = [root]
  while (pending.length > 0) {
    const nsid = pending.pop()
    if (docs.has(nsid)) continue
    const doc = JSON.parse(
      readFileSync(join(LEXICONS, ...nsid.split('.')) + '.json', 'utf8'),
    )
    docs.set(nsid, doc)
    const visit = (v) => {
      if (Array.isArray(v)) return v.forEach(visit)
      if (v === null || typeof v !== 'object') return
      for (const [k, x] of Object.entries(v)) {
        const refs = k === 'ref' ? [x] : k === 'refs' ? x : null
        if (refs) {
          for (const r of refs) {
            const target = r.replace(/^lex:/, '').split('#')[0]
            if (target) pending.push(target)
          }
        } else {
          visit(x)
        }
      }
    }
    visit(doc)
  }
  return [...docs.values()]
}

// The caller's key, already known: what a warm DID-document cache gives.
const keys = new Map([[callerDid, callerKey]])
const getSigningKey = async (iss, _forceRefresh) => {
  const key = keys.get(iss.split('#')[0])
  if (!key) throw new AuthRequiredError('unknown issuer', 'BadJwtIssuer')
  return key
}

// Newest first: the highest sequence number is the first post of a page;
// a cursor is the sequence number of the last post of the previous page.
const uris = []
for (let i = 0; i < Number(posts); i++) {
  uris.push(`at://${callerDid}/app.bsky.feed.post/3l${String(i).padStart(11, '0')}`)
}

function page(cursor, limit) {
  let before = uris.length
  if (cursor !== undefined) {
    if (!/^[0-9]+$/.test(cursor)) throw new InvalidRequestError(`malformed cursor "${cursor}"`)
    before = Math.min(Number(cursor) - 1, uris.length)
  }
  const feed = []
  let seq = before
  while (seq > 0 && feed.length < limit) {
    feed.push({ post: uris[seq - 1] })
    seq -= 1
  }
  const next = feed.length === limit && seq > 0 ? String(seq + 1) : undefined
  return { feed, cursor: next }
}

const server = createServer(loadLexicons(NSID), {
  validateResponse: !flags.includes('--no-validate-response'),
})

server.method(NSID, {
  auth: async ({ req }) => {
    const header = req.headers.authorization ?? ''
    if (!header.startsWith('Bearer ')) {
      throw new AuthRequiredError('missing jwt', 'MissingJwt')
    }
    const payload = await verifyJwt(
      header.slice('Bearer '.length).trim(),
      serviceDid,
      NSID,
      getSigningKey,
    )
    return { credentials: { iss: payload.iss } }
  },
  handler: async ({ params }) => {
    if (params.feed !== feedUri) {
      throw new InvalidRequestError(`this generator serves ${feedUri} only`, 'UnknownFeed')
    }
    return { encoding: 'application/json', body: page(params.cursor, params.limit) }
  },
})

const http = server.router.listen(0, '127.0.0.1', () => {
  console.log(`listening ${http.address().port}`)
})
// The bench reuses connections across rounds with pauses between them.
http.keepAliveTimeout = 120_000
http.headersTimeout = 121_000
