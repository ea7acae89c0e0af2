// The image's HEALTHCHECK: the slim image has no curl, so Node asks /healthz itself.
const port = process.env.PORT || 8080
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) })
  process.exit(response.ok ? 0 : 1)
} catch {
  process.exit(1)
}
