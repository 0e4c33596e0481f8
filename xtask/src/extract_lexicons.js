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
let count = 0
for (const key of Object.keys(dict).sort()) {
  const doc = dict[key]
  if (typeof doc.id !== 'string') throw new Error(`${key}: document has no id`)
  const file = path.join(outDir, ...doc.id.split('.')) + '.json'
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
  count++
}
console.log(count)
