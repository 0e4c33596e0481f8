// Reads the `schemaDict` object literal out of @atproto/api's compiled
// `dist/client/lexicons.js` and writes one pretty-printed JSON file per NSID.
// Evaluated in an empty VM context, so the module's imports are never loaded.
// Usage: node extract_lexicons.js <lexicons.js> <out-dir>
'use strict'
const fs = require('fs')
const path = require('path')
const vm = require('vm')

const [src, outDir] = process.argv.slice(2)
const text = fs.readFileSync(src, 'utf8')
const start = text.indexOf('export const schemaDict = {')
if (start < 0) throw new Error(`${src}: no 'export const schemaDict = {' found`)
const end = text.indexOf('\n};\n', start)
if (end < 0) throw new Error(`${src}: schemaDict literal is not closed`)
const literal = text.slice(start + 'export const schemaDict = '.length, end + 2)
const dict = vm.runInNewContext('(' + literal + ')', Object.create(null))
// The package's generator writes refs as `lex:<nsid>#<def>`, its own
// internal form; lexicon documents as published write `<nsid>#<def>`.
// Strip the prefix from `ref` and `refs` so the folder holds the canonical
// documents any lexicon tool reads.
function canonical(node) {
  if (Array.isArray(node)) return node.map(canonical)
  if (node === null || typeof node !== 'object') return node
  const out = {}
  for (const [k, v] of Object.entries(node)) {
    const strip = (r) => (typeof r === 'string' && r.startsWith('lex:') ? r.slice(4) : r)
    if (k === 'ref') out[k] = strip(v)
    else if (k === 'refs' && Array.isArray(v)) out[k] = v.map(strip)
    else out[k] = canonical(v)
  }
  return out
}

let count = 0
for (const key of Object.keys(dict).sort()) {
  const doc = canonical(dict[key])
  if (typeof doc.id !== 'string') throw new Error(`${key}: document has no id`)
  const file = path.join(outDir, ...doc.id.split('.')) + '.json'
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
  count++
}
console.log(count)
