// The Node side of the moderation_bench example: reads the fixture the Rust
// example wrote (argv[2]), moderates its posts with @atproto/api's
// moderatePost (package directory in ATPROTO_API_DIR) for about three
// seconds, and prints one JSON line: decisions per second, the package and
// Node versions, how many posts the feed filters.

import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const dir = process.env.ATPROTO_API_DIR
const api = await import(pathToFileURL(path.join(dir, 'dist/index.js')).href)
const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
const f = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))

const labelDefs = {}
for (const [did, defs] of Object.entries(f.labelerDefs)) {
  labelDefs[did] = defs.map((d) => api.interpretLabelValueDefinition(d, did))
}
const opts = { userDid: f.userDid, prefs: f.prefs, labelDefs }
const posts = f.posts

let filtered = 0
for (const p of posts) {
  if (api.moderatePost(p, opts).ui('contentList').filter) filtered++
}

let sink = 0
const start = performance.now()
let n = 0
while (performance.now() - start < 3000) {
  for (const p of posts) {
    const d = api.moderatePost(p, opts)
    if (d.ui('contentList').filter) sink++
    if (d.ui('contentMedia').blur) sink++
    n++
  }
}
const seconds = (performance.now() - start) / 1000
console.log(JSON.stringify({ decisionsPerSecond: n / seconds, version, node: process.version, filtered, sink }))
