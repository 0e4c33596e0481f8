// The official client's detection for tools/compare-with-official.sh: reads a
// JSON array of texts on standard input and prints, for each, the facets it
// detects as [byteStart, byteEnd, kind, value], the same shape as the
// detect_json example prints; with --segments, segments and newline cleaning
// in the shape `detect_json --segments` prints.
import fs from 'node:fs'
import { RichText, sanitizeRichText } from '@atproto/api'

const texts = JSON.parse(fs.readFileSync(0, 'utf8'))
const segmentsAndClean = (text) => {
  const rt = new RichText({ text })
  rt.detectFacetsWithoutResolution()
  const segments = Array.from(rt.segments(), (s) => [s.text, !!s.facet])
  const cleaned = sanitizeRichText(rt, { cleanNewlines: true })
  const ranges = (cleaned.facets || []).map((f) => [f.index.byteStart, f.index.byteEnd])
  return [segments, cleaned.text, ranges]
}
const out = process.argv[2] === '--segments' ? texts.map(segmentsAndClean) : texts.map((text) => {
  const rt = new RichText({ text })
  rt.detectFacetsWithoutResolution()
  return (rt.facets || []).flatMap((facet) =>
    facet.features.map((feature) => {
      const type = feature.$type
      if (type.endsWith('#mention')) return [facet.index.byteStart, facet.index.byteEnd, 'mention', feature.did]
      if (type.endsWith('#link')) return [facet.index.byteStart, facet.index.byteEnd, 'link', feature.uri]
      return [facet.index.byteStart, facet.index.byteEnd, 'tag', feature.tag]
    }),
  )
})
console.log(JSON.stringify(out))
