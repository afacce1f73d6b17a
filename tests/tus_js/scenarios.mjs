// tus-js-client 4.x (the client under Uppy), used as its users use it, against a live Ledgerdoc.
// Usage: node scenarios.mjs <scenario> <base URL> <bearer token> <input file>
// Prints one JSON line: {"ok": true, "url": ...} or {"ok": false, "error": ...}.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'

const require = createRequire(import.meta.url)
const tus = require('tus-js-client')

const [scenario, base, token, input] = process.argv.slice(2)
const data = readFileSync(input)
const endpoint = `${base}/api/v1/tus/`
const common = {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: 'Ταμείο 財務 ملف №7.pdf', filetype: 'application/pdf' },
  chunkSize: 1024 * 1024,
  retryDelays: null,
  storeFingerprintForResuming: false,
}

function run (source, options, hooks = {}) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      ...common,
      ...options,
      onError: reject,
      onSuccess: () => resolve(upload.url),
      onProgress: (sent, total) => hooks.onProgress && hooks.onProgress(upload, sent, total),
    })
    upload.start()
  })
}

const scenarios = {
  plain: () => run(data, {}),
  parallel: () => run(data, { parallelUploads: 3, chunkSize: Infinity }),
  deferred: () => run(Readable.from(chunksOf(data, 300 * 1024)), {
    uploadLengthDeferred: true, chunkSize: 512 * 1024,
  }),
  // Abort the one big PATCH a third of the way in, and resume at once: HEAD must answer the true
  // offset while the aborted request is still draining on the server, with no retries allowed.
  // (A new Upload for the same URL, as Uppy's resume and a reload's findPreviousUploads do.)
  'abort-resume': () => new Promise((resolve, reject) => {
    let aborted = false
    run(data, { chunkSize: Infinity }, {
      onProgress: (upload, sent, total) => {
        if (aborted || sent <= total / 3) return
        aborted = true
        upload.abort()
          .then(() => run(data, { chunkSize: Infinity, uploadUrl: upload.url }))
          .then(resolve, reject)
      },
    }).then(() => reject(new Error('the upload was never aborted')), (error) => {
      if (!aborted) reject(error)
    })
  }),
  terminate: () => tus.Upload.terminate(process.argv[6], { ...common }).then(() => process.argv[6]),
}

function * chunksOf (buffer, size) {
  for (let start = 0; start < buffer.length; start += size) yield buffer.subarray(start, start + size)
}

scenarios[scenario]()
  .then((url) => console.log(JSON.stringify({ ok: true, url })))
  .catch((error) => {
    console.log(JSON.stringify({ ok: false, error: String(error && error.message || error) }))
    process.exitCode = 1
  })
