// The official client's detection for tools/compare-with-official.sh: reads a
// JSON array of texts on standard input and prints, for each, the facets it
// detects as [byteStart, byteEnd, kind, value], the same shape as the
// detect_json example prints.
import fs from 'node:fs'
import { RichText } from '@atproto/api'

const texts = JSON.parse(fs.readFileSync(0, 'utf8'))
const out = texts.map((text) => {
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
